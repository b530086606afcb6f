"""Tests for healthkb.corpus: which files are articles, which are skipped and
why, how they are decoded, and that reading a KB never changes it."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from healthkb.freshness import tree_state
from healthkb.corpus import DEFAULT_MAX_BYTES, article_id, iter_articles, load_article, scan_kb
from healthkb.files import STATE_DIR_NAME, UndecodableError, decode_bytes

ARTICLE = (
    "Rest helps the back heal. |\n<<: Previous title\n>>: Next title\n"
    "A teaser for a related article tha...\n"
)


def ids(scan) -> list[str]:
    return [file.id for file in scan.files]


def reasons(scan) -> dict[str, str]:
    return {skipped.path: skipped.reason for skipped in scan.skipped}


# ---------------------------------------------------------------- ids and paths


def test_ids_are_slash_separated_relative_paths_without_txt(make_kb):
    root = make_kb({"a.txt": ARTICLE, "sleep/insomnia-relief.txt": ARTICLE, "x/y/z/deep.TXT": ARTICLE})
    scan = scan_kb(root)
    assert ids(scan) == ["a", "sleep/insomnia-relief", "x/y/z/deep"]
    by_id = {file.id: file for file in scan.files}
    assert by_id["sleep/insomnia-relief"].relpath == "sleep/insomnia-relief.txt"
    assert Path(by_id["x/y/z/deep"].abspath).read_text() == ARTICLE
    assert by_id["a"].size == len(ARTICLE.encode())
    assert by_id["a"].mtime_ns == (root / "a.txt").stat().st_mtime_ns


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [("a/b.txt", "a/b"), ("b.TXT", "b"), ("c.txt.txt", "c.txt"), ("notes.md", "notes.md")],
)
def test_article_id(relpath, expected):
    assert article_id(relpath) == expected


def test_files_that_are_not_txt_are_ignored_silently(make_kb):
    root = make_kb({"a.txt": ARTICLE, "README.md": "# readme", "image.png": b"\x89PNG\r\n\x1a\n\x00", "txt": "x"})
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    assert scan.skipped == []


@pytest.mark.parametrize(
    "name",
    [
        "my notes.txt",
        "café santé.txt",
        "睡眠.txt",
        "it's \"quoted\".txt",
        "-rf.txt",
        "--help.txt",
        "a;b&c$(d).txt",
    ],
)
def test_odd_but_valid_file_names_are_articles(make_kb, name):
    root = make_kb({name: ARTICLE})
    scan = scan_kb(root)
    assert ids(scan) == [name[:-4]]
    article, _decoded = load_article(scan.files[0])
    assert article.id == name[:-4]
    assert article.prev == "Previous title"


# ---------------------------------------------------------------- skip rules


def test_hidden_file_is_skipped_with_a_reason(make_kb):
    root = make_kb({"a.txt": ARTICLE, ".draft.txt": ARTICLE})
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    assert reasons(scan) == {".draft.txt": "hidden file"}


def test_hidden_folder_is_skipped_with_a_reason(make_kb):
    root = make_kb({"a.txt": ARTICLE, ".archive/old.txt": ARTICLE, "sub/.private/p.txt": ARTICLE})
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    assert reasons(scan) == {".archive": "hidden folder", "sub/.private": "hidden folder"}


def test_state_folder_is_never_scanned_nor_reported(make_kb):
    root = make_kb(
        {"a.txt": ARTICLE, f"{STATE_DIR_NAME}/index/x.txt": ARTICLE, f"sub/{STATE_DIR_NAME}/y.txt": ARTICLE}
    )
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    assert scan.skipped == []
    assert not any(STATE_DIR_NAME in folder for folder in scan.folders)


def test_symlink_to_a_file_outside_the_kb_is_skipped(make_kb, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text(ARTICLE)
    root = make_kb({"a.txt": ARTICLE})
    (root / "leak.txt").symlink_to(outside)
    (root / "leakdir").symlink_to(tmp_path / "env", target_is_directory=True)
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    assert reasons(scan) == {
        "leak.txt": "symlink to outside the knowledge base",
        "leakdir": "symlink to outside the knowledge base",
    }


def test_symlink_inside_the_kb_is_followed(make_kb):
    root = make_kb({"real/a.txt": ARTICLE})
    (root / "alias.txt").symlink_to(root / "real" / "a.txt")
    assert ids(scan_kb(root)) == ["alias", "real/a"]


def test_symlinked_folder_never_hides_the_real_path(make_kb):
    # "a-link" sorts before "zzz", yet the articles keep their real ids.
    root = make_kb({"zzz/one.txt": ARTICLE, "zzz/deeper/two.txt": ARTICLE})
    (root / "a-link").symlink_to(root / "zzz", target_is_directory=True)
    (root / "b").mkdir()
    (root / "b" / "to-deeper").symlink_to(root / "zzz" / "deeper", target_is_directory=True)
    scan = scan_kb(root)
    assert ids(scan) == ["zzz/deeper/two", "zzz/one"]
    assert reasons(scan) == {
        "a-link": "symlink to a folder already scanned",
        "b/to-deeper": "symlink to a folder already scanned",
    }


def test_symlinked_folder_inside_the_kb_is_scanned_when_it_is_the_only_way_in(make_kb):
    root = make_kb({".attic/kept.txt": ARTICLE})
    (root / "attic").symlink_to(root / ".attic", target_is_directory=True)
    assert ids(scan_kb(root)) == ["attic/kept"]


def test_symlink_loops_are_skipped_with_a_reason(make_kb):
    root = make_kb({"a.txt": ARTICLE, "sub/b.txt": ARTICLE})
    (root / "loop.txt").symlink_to("loop.txt")
    (root / "sub" / "up").symlink_to("..", target_is_directory=True)
    (root / "sub" / "self").symlink_to(".", target_is_directory=True)
    started = time.monotonic()
    scan = scan_kb(root)
    assert time.monotonic() - started < 2
    assert ids(scan) == ["a", "sub/b"]
    assert reasons(scan) == {"loop.txt": "symlink loop", "sub/up": "symlink loop", "sub/self": "symlink loop"}


def test_broken_symlink_is_skipped_with_a_reason(make_kb):
    root = make_kb({"a.txt": ARTICLE})
    (root / "gone.txt").symlink_to(root / "never-existed.txt")
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    assert reasons(scan) == {"gone.txt": "broken symlink"}


def test_empty_file_is_skipped(make_kb):
    root = make_kb({"a.txt": ARTICLE, "empty.txt": b""})
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    assert reasons(scan) == {"empty.txt": "empty file"}


def test_huge_file_is_skipped_by_size_without_being_read(make_kb, monkeypatch):
    root = make_kb({"a.txt": ARTICLE})
    with open(root / "huge.txt", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: instant, takes no disk
    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", lambda *a, **k: pytest.fail("scan_kb must not open files"))
        started = time.monotonic()
        scan = scan_kb(root)
        assert time.monotonic() - started < 2
    assert ids(scan) == ["a"]
    assert reasons(scan) == {"huge.txt": "larger than 5 MB"}


def test_size_limit_boundary(make_kb):
    root = make_kb({"at-limit.txt": b"x" * 100, "over-limit.txt": b"x" * 101})
    scan = scan_kb(root, max_bytes=100)
    assert ids(scan) == ["at-limit"]
    assert reasons(scan) == {"over-limit.txt": "larger than 100 bytes"}
    assert DEFAULT_MAX_BYTES == 5 * 1024 * 1024


def test_binary_file_named_txt_is_skipped_when_read(make_kb):
    root = make_kb({"a.txt": ARTICLE, "photo.txt": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256))})
    results = list(iter_articles(scan_kb(root)))
    assert [(file.id, article is not None) for file, article, _ in results] == [("a", True), ("photo", False)]
    skipped = results[1][2]
    assert (skipped.path, skipped.reason) == ("photo.txt", "binary file")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("esc\x1b[31mred.txt", "control character in the file name"),
        ("osc\x1b]0;title\x07.txt", "control character in the file name"),
        ("bell\x07.txt", "control character in the file name"),
        ("two\nlines.txt", "line break in the file name"),
        ("cr\rhere.txt", "line break in the file name"),
    ],
)
def test_file_names_with_control_characters_are_skipped(make_kb, name, reason):
    root = make_kb({"a.txt": ARTICLE, name: ARTICLE})
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    [skipped] = scan.skipped
    assert skipped.reason == reason
    # The reported path is safe to print: controls shown as "?".
    assert skipped.path.isprintable()
    assert skipped.path.count("?") == sum(not ch.isprintable() for ch in name)


def test_folder_with_a_control_character_is_skipped_whole(make_kb):
    root = make_kb({"bad\x1b[2Jfolder/a.txt": ARTICLE, "ok/b.txt": ARTICLE})
    scan = scan_kb(root)
    assert ids(scan) == ["ok/b"]
    assert reasons(scan) == {"bad?[2Jfolder": "control character in the file name"}


def test_file_name_that_is_not_utf8_is_skipped_printably(make_kb):
    root = make_kb({"a.txt": ARTICLE})
    raw_name = os.path.join(os.fsencode(root), b"caf\xe9.txt")
    with open(raw_name, "wb") as handle:
        handle.write(ARTICLE.encode())
    scan = scan_kb(root)
    assert ids(scan) == ["a"]
    [skipped] = scan.skipped
    assert skipped.reason == "file name is not valid UTF-8"
    assert skipped.path == "caf\ufffd.txt"
    skipped.path.encode("utf-8")  # printable on any UTF-8 terminal


# ---------------------------------------------------------------- decoding


def test_utf8_with_and_without_bom():
    text = "Café body. |\n<<: Prev"
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8")):
        decoded = decode_bytes(data)
        assert (decoded.text, decoded.encoding, decoded.warnings) == (text, "utf-8", ())
        assert decoded.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_decoded(make_kb, codec):
    text = "Café body line. |\r\n<<: Prev title\r\nA teaser text...\r\n"
    bom = "\ufeff".encode(codec)
    root = make_kb({"wide.txt": bom + text.encode(codec)})
    [(file, article, decoded)] = list(iter_articles(scan_kb(root)))
    assert decoded.encoding == "utf-16"
    assert article.body == "Café body line."
    assert article.prev == "Prev title"
    assert article.teasers == ("A teaser text",)


def test_invalid_utf8_falls_back_to_cp1252_with_a_warning(make_kb):
    data = "Caf\u00e9 \u201cquoted\u201d \u2014 fine. |\r\n<<: Na\u00efve".encode("cp1252")
    root = make_kb({"legacy.txt": data})
    [(file, article, decoded)] = list(iter_articles(scan_kb(root)))
    assert decoded.encoding == article.encoding == "cp1252"
    assert article.body == "Café “quoted” — fine."
    assert article.prev == "Naïve"
    assert len(article.warnings) == 1 and "cp1252" in article.warnings[0]
    assert decoded.sha256 == hashlib.sha256(data).hexdigest()


def test_bytes_undefined_in_cp1252_do_not_fail():
    decoded = decode_bytes(b"odd \x81\x8d\x8f\x90\x9d bytes \xff")
    assert decoded.encoding == "cp1252"
    assert decoded.text.startswith("odd ") and decoded.text.endswith(" bytes ÿ")


@pytest.mark.parametrize("data", [b"\x00", b"text\x00more", b"a" * 10000 + b"\x00"])
def test_nul_bytes_mean_binary(data):
    with pytest.raises(UndecodableError):
        decode_bytes(data)


def test_crlf_article_loads_like_lf(make_kb):
    lf = "Line one.\nLine two. |\n<<: Prev\n>>: Next\nTeaser...\n"
    root = make_kb({"lf.txt": lf, "crlf.txt": lf.replace("\n", "\r\n"), "cr.txt": lf.replace("\n", "\r")})
    loaded = {file.id: article for file, article, _ in iter_articles(scan_kb(root))}
    assert loaded["crlf"].body == loaded["cr"].body == loaded["lf"].body == "Line one.\nLine two."
    assert loaded["crlf"].teasers == loaded["lf"].teasers == ("Teaser",)


def test_seed_article_loads_from_disk(seed_path, make_kb):
    root = make_kb({"000_ec7fe29246c6fc0e.txt": seed_path.read_bytes()})
    [(file, article, decoded)] = list(iter_articles(scan_kb(root)))
    assert file.id == "000_ec7fe29246c6fc0e"
    assert article.path == "000_ec7fe29246c6fc0e.txt"
    assert article.next == "Do you have to lie flat if you have hip effusion?"
    assert len(article.teasers) == 15
    assert decoded.sha256 == hashlib.sha256(seed_path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- folders, progress, no writes


def test_folder_mtimes_are_recorded(make_kb):
    root = make_kb(
        {"a.txt": ARTICLE, "sleep/b.txt": ARTICLE, "sleep/deep/c.txt": ARTICLE, "empty-folder/x.md": "x"}
    )
    scan = scan_kb(root)
    assert set(scan.folders) == {"", "sleep", "sleep/deep", "empty-folder"}
    for rel, mtime in scan.folders.items():
        assert mtime == (root / rel).stat().st_mtime_ns


def test_the_freshness_digest_moves_when_an_article_is_added_or_removed(make_kb):
    root = make_kb({"sleep/b.txt": ARTICLE})
    before = tree_state(root)
    assert tree_state(root) == before  # nothing changed: the same digest
    (root / "sleep" / "new.txt").write_text(ARTICLE)
    added = tree_state(root)
    assert added != before
    (root / "sleep" / "b.txt").unlink()
    assert tree_state(root) not in (before, added)


def test_the_freshness_digest_moves_when_a_folder_goes(make_kb):
    root = make_kb({"gone/a.txt": ARTICLE, "kept.txt": ARTICLE})
    before = tree_state(root)
    (root / "gone" / "a.txt").unlink()
    (root / "gone").rmdir()
    assert tree_state(root) != before


def test_progress_is_reported_for_every_file(make_kb):
    root = make_kb({f"n{i}.txt": ARTICLE for i in range(4)})
    calls = []
    list(iter_articles(scan_kb(root), progress=lambda done, total: calls.append((done, total))))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_file_removed_after_the_scan_is_reported_not_raised(make_kb):
    root = make_kb({"a.txt": ARTICLE, "b.txt": ARTICLE})
    scan = scan_kb(root)
    (root / "b.txt").unlink()
    results = list(iter_articles(scan))
    assert results[1][1] is None
    assert results[1][2].path == "b.txt" and results[1][2].reason.startswith("unreadable")


def test_scanning_a_kb_through_a_symlinked_root(make_kb, tmp_path):
    root = make_kb({"a.txt": ARTICLE, "sub/b.txt": ARTICLE})
    link = tmp_path / "kb-link"
    link.symlink_to(root, target_is_directory=True)
    assert ids(scan_kb(link)) == ["a", "sub/b"]


def test_scanning_and_reading_never_change_any_file(make_kb, tmp_path, seed_path, snapshot):
    outside = tmp_path / "outside.txt"
    outside.write_text(ARTICLE)
    root = make_kb(
        {
            "seed.txt": seed_path.read_bytes(),
            "bom-crlf.txt": b"\xef\xbb\xbf" + ARTICLE.replace("\n", "\r\n").encode(),
            "legacy.txt": "Caf\u00e9 |".encode("cp1252"),
            "wide.txt": "\ufeffWide |".encode("utf-16-le"),
            "binary.txt": b"\x00\x01\x02",
            "empty.txt": b"",
            "esc.txt": "\x1b]0;title\x07Body \x1b[31mred |\n<<: \x1b[2JPrev",
            ".hidden.txt": ARTICLE,
            "sub/nested.txt": ARTICLE,
        }
    )
    (root / "out.txt").symlink_to(outside)
    for path in root.rglob("*"):
        if not path.is_symlink():
            os.utime(path, ns=(10**18, 10**18))  # a fixed stamp makes any touch show
    files_before = snapshot(root)
    outside_before = (outside.read_bytes(), outside.stat().st_mtime_ns)
    tree_before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    scan = scan_kb(root)
    results = list(iter_articles(scan))
    assert len(results) == 7
    assert snapshot(root) == files_before
    assert (outside.read_bytes(), outside.stat().st_mtime_ns) == outside_before
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == tree_before
