"""Updates that rescan only the folders that changed (issue 15): each folder's
digest is kept in the catalog, an update compares them with a fresh stat walk
and rescans only the folders whose digest moved.  Whatever the change, the
catalog afterwards must be exactly what a full build of the same files gives.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from clihelp import article, run_cli
from healthkb.index import folderscan
from healthkb.index.api import reindex
from healthkb.index.catalog import CATALOG_NAME
from healthkb.kb import KB

FOLDERS = ["a", "b", "c", "d", "a/deep"]


def kb_of(root: Path) -> KB:
    return KB(root.resolve(), "option")


def catalog_tables(root: Path) -> dict[str, list[tuple]]:
    """What an update must get right, as plain rows (folder mtimes and digests
    included: they decide what the next update looks at)."""
    db = sqlite3.connect(root / ".healthkb" / CATALOG_NAME)
    try:
        return {
            "articles": db.execute("SELECT id, path, size, mtime_ns, sha256, title FROM articles ORDER BY id").fetchall(),
            "skipped": db.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall(),
            "folders": db.execute("SELECT path, mtime_ns FROM folders ORDER BY path").fetchall(),
            "digests": db.execute("SELECT path, digest FROM folder_digests ORDER BY path").fetchall(),
            "links": db.execute("SELECT src, kind, ordinal, status, count, target FROM links ORDER BY 1, 2, 3, 6").fetchall(),
            "meta": db.execute("SELECT value FROM meta WHERE key='folder_scan'").fetchall(),
        }
    finally:
        db.close()


def same_as_full_build(root: Path) -> None:
    """The catalog the update left equals the one a full build makes now."""
    after_update = catalog_tables(root)
    report = reindex(kb_of(root), full=True)
    assert report.full
    rebuilt = catalog_tables(root)
    # Row ids of a rebuild follow id order; compare links by article id instead.
    for tables in (after_update, rebuilt):
        tables.pop("links")
    assert after_update == rebuilt


@pytest.fixture
def folders_kb(make_kb) -> Path:
    files = {"root-note.txt": article("A note kept at the top of the knowledge base.")}
    for folder in FOLDERS:
        for n in range(4):
            files[f"{folder}/item-{n}.txt"] = article(f"Article {n} of folder {folder} about sleep and joints.")
    root = make_kb(files)
    assert run_cli("reindex").code == 0
    return root


@pytest.fixture
def rescans(monkeypatch) -> list[str]:
    """The folders each update rescans, in order."""
    seen: list[str] = []
    real = folderscan.scan_folders

    def spy(root, folders, **kwargs):
        seen.extend(folders)
        return real(root, folders, **kwargs)

    monkeypatch.setattr(folderscan, "scan_folders", spy)
    return seen


def bump_mtime(path: Path, seconds: float = 2) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + int(seconds * 1e9)))


def test_an_unchanged_kb_rescans_no_folder(folders_kb, rescans):
    report = reindex(kb_of(folders_kb))
    assert not report.changed and not report.full
    assert report.unchanged == 1 + 4 * len(FOLDERS)
    assert rescans == []


def test_an_in_place_edit_of_the_same_size_is_found(folders_kb, rescans):
    target = folders_kb / "c" / "item-2.txt"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("sleep", "sneep"), encoding="utf-8")  # same size
    bump_mtime(target)
    report = reindex(kb_of(folders_kb))
    assert (report.added, report.updated, report.removed) == ([], ["c/item-2"], [])
    assert rescans == ["c"]  # one changed folder among many unchanged
    assert report.unchanged == 4 * len(FOLDERS)
    hits = run_cli("search", "sneep", "--json").ids()
    assert hits == ["c/item-2"]
    same_as_full_build(folders_kb)


def test_a_rename_removes_the_old_id_and_adds_the_new(folders_kb, rescans):
    (folders_kb / "b" / "item-1.txt").rename(folders_kb / "b" / "renamed.txt")
    report = reindex(kb_of(folders_kb))
    assert (report.added, report.updated, report.removed) == (["b/renamed"], [], ["b/item-1"])
    assert rescans == ["b"]
    same_as_full_build(folders_kb)


def test_a_rename_across_folders_rescans_both(folders_kb, rescans):
    (folders_kb / "a" / "item-3.txt").rename(folders_kb / "d" / "item-3-moved.txt")
    report = reindex(kb_of(folders_kb))
    assert (report.added, report.removed) == (["d/item-3-moved"], ["a/item-3"])
    assert sorted(rescans) == ["a", "d"]
    same_as_full_build(folders_kb)


def test_a_file_removed_and_another_added_in_the_same_folder(folders_kb, rescans):
    old = folders_kb / "d" / "item-0.txt"
    text = old.read_text(encoding="utf-8")
    old.unlink()
    # Same size and mtime as the removed one: only its name tells them apart.
    new = folders_kb / "d" / "item-9.txt"
    new.write_text(text, encoding="utf-8")
    os.utime(new, ns=(0, 1_600_000_000_000_000_000))
    report = reindex(kb_of(folders_kb))
    assert (report.added, report.updated, report.removed) == (["d/item-9"], [], ["d/item-0"])
    assert rescans == ["d"]
    same_as_full_build(folders_kb)


def test_new_and_removed_subfolders(folders_kb, rescans):
    shutil.rmtree(folders_kb / "a" / "deep")
    (folders_kb / "c" / "new" / "newer").mkdir(parents=True)
    (folders_kb / "c" / "new" / "newer" / "fresh.txt").write_text(article("A fresh article about knees."), encoding="utf-8")
    report = reindex(kb_of(folders_kb))
    assert report.added == ["c/new/newer/fresh"]
    assert report.removed == [f"a/deep/item-{n}" for n in range(4)]
    assert sorted(rescans) == ["a", "c", "c/new", "c/new/newer"]
    same_as_full_build(folders_kb)


def test_skipped_files_of_unchanged_folders_stay_reported(folders_kb, rescans):
    (folders_kb / "a" / "empty.txt").write_bytes(b"")
    (folders_kb / "b" / "binary.txt").write_bytes(b"\x00\x01binary")
    reindex(kb_of(folders_kb))
    rescans.clear()
    (folders_kb / "c" / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (folders_kb / "c" / "item-0.TXT").write_text(article("The same id as item-0."), encoding="utf-8")
    report = reindex(kb_of(folders_kb))
    assert rescans == ["c"]
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["a/empty.txt"] == "empty file"
    assert reasons["b/binary.txt"] == "binary file"
    assert reasons["c/.hidden.txt"] == "hidden file"
    assert reasons["c/item-0.TXT"].startswith("same article id as c/item-0.txt")
    same_as_full_build(folders_kb)
    # Emptying a file and filling the empty one again, in place.
    (folders_kb / "a" / "empty.txt").write_text(article("No longer empty: about hips."), encoding="utf-8")
    (folders_kb / "a" / "item-1.txt").write_bytes(b"")
    report = reindex(kb_of(folders_kb))
    assert (report.added, report.removed) == (["a/empty"], ["a/item-1"])
    assert {s.path: s.reason for s in report.skipped}["a/item-1.txt"] == "empty file"
    same_as_full_build(folders_kb)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_made_readable_again_is_read_on_the_next_reindex(folders_kb):
    target = folders_kb / "b" / "item-2.txt"
    bump_mtime(target)
    target.chmod(0)
    try:
        report = reindex(kb_of(folders_kb))
        assert any(s.path == "b/item-2.txt" and s.reason.startswith("unreadable") for s in report.skipped)
    finally:
        target.chmod(0o644)
    report = reindex(kb_of(folders_kb))  # the mode moved no stat: the folder is looked at again anyway
    assert "b/item-2" in report.added
    assert not any(s.path == "b/item-2.txt" for s in report.skipped)


def test_a_kb_with_a_symlinked_folder_scans_the_whole_kb(folders_kb, rescans):
    (folders_kb / "linked").symlink_to(folders_kb / "a" / "deep", target_is_directory=True)
    reindex(kb_of(folders_kb))  # the root changed: rescanning it meets the link
    assert catalog_tables(folders_kb)["meta"] == [("0",)]
    rescans.clear()
    (folders_kb / "b" / "extra.txt").write_text(article("Extra article about elbows."), encoding="utf-8")
    report = reindex(kb_of(folders_kb))
    assert report.added == ["b/extra"] and rescans == []
    same_as_full_build(folders_kb)


def test_an_index_without_folder_digests_scans_the_whole_kb_once(folders_kb, rescans):
    db = sqlite3.connect(folders_kb / ".healthkb" / CATALOG_NAME)
    db.execute("DELETE FROM folder_digests")
    db.commit()
    db.close()
    (folders_kb / "b" / "extra.txt").write_text(article("Extra article about elbows."), encoding="utf-8")
    assert reindex(kb_of(folders_kb)).added == ["b/extra"]
    assert rescans == []
    (folders_kb / "b" / "extra.txt").unlink()
    assert reindex(kb_of(folders_kb)).removed == ["b/extra"]
    assert rescans == ["b"]


def _random_change(root: Path, rng: random.Random, step: int) -> None:
    files = sorted(p for p in root.rglob("*.txt") if ".healthkb" not in p.parts)
    folders = sorted({p.parent for p in files} | {root})
    kind = rng.choice(["add", "remove", "rename", "edit", "empty", "hidden", "mkdir", "rmdir", "binary"])
    if kind == "add" or not files:
        (rng.choice(folders) / f"new-{step}.txt").write_text(article(f"New article {step} about backs."), encoding="utf-8")
    elif kind == "remove":
        rng.choice(files).unlink()
    elif kind == "rename":
        rng.choice(files).rename(rng.choice(folders) / f"renamed-{step}.txt")
    elif kind == "edit":
        target = rng.choice(files)
        target.write_text(article(f"Edited {step}: a new first sentence about necks."), encoding="utf-8")
        bump_mtime(target, 1 + step)
    elif kind == "empty":
        rng.choice(files).write_bytes(b"")
    elif kind == "hidden":
        (rng.choice(folders) / f".hidden-{step}.txt").write_text("hidden", encoding="utf-8")
    elif kind == "mkdir":
        new = rng.choice(folders) / f"sub-{step}"
        new.mkdir()
        (new / "inside.txt").write_text(article(f"Inside {step}: about shoulders."), encoding="utf-8")
    elif kind == "rmdir":
        candidates = [f for f in folders if f != root]
        if candidates:
            shutil.rmtree(rng.choice(candidates))
    else:
        (rng.choice(folders) / f"binary-{step}.txt").write_bytes(b"\x00" * 10)


@pytest.mark.parametrize("seed", range(6))
def test_random_changes_leave_the_catalog_a_full_build_would_make(folders_kb, seed):
    rng = random.Random(seed)
    for step in range(4):
        for _ in range(rng.randint(1, 3)):
            _random_change(folders_kb, rng, step)
        report = reindex(kb_of(folders_kb))
        assert not report.full
        assert catalog_tables(folders_kb)["meta"] == [("1",)]
        same_as_full_build(folders_kb)


def test_a_reading_command_after_a_change_walks_the_kb_once(folders_kb, rescans, monkeypatch):
    walks = count_walks(monkeypatch)
    (folders_kb / "d" / "item-1.txt").write_text(article("Quinoa porridge for breakfast."), encoding="utf-8")
    bump_mtime(folders_kb / "d" / "item-1.txt")
    assert run_cli("search", "quinoa", "--json").ids() == ["d/item-1"]
    assert len(walks) == 1 and rescans == ["d"]
    walks.clear()
    assert run_cli("search", "quinoa", "--json").ids() == ["d/item-1"]  # now current: no update
    assert len(walks) == 1 and rescans == ["d"]


def count_walks(monkeypatch) -> list[str]:
    from healthkb import freshness
    from healthkb.index import api, update

    walks: list[str] = []

    def counted(root, *args, **kwargs):
        walks.append(str(root))
        return freshness.tree_state(root, *args, **kwargs)

    def counted_background(root, *args, **kwargs):
        state = freshness.background_tree_state(root, *args, **kwargs)
        if state is not None:  # the walk a reading command started in a child process (cli.main)
            walks.append(str(root))
        return state

    monkeypatch.setattr(api, "tree_state", counted)
    monkeypatch.setattr(api, "background_tree_state", counted_background)
    monkeypatch.setattr(update, "tree_state", counted)
    return walks


def test_add_rescans_the_folder_it_wrote_without_walking_the_kb(folders_kb, rescans, monkeypatch, tmp_path):
    source = tmp_path / "elbow-care.txt"
    source.write_text(article("Elbow care for people who type all day."), encoding="utf-8")
    walks = count_walks(monkeypatch)
    result = run_cli("add", str(source), "--into", "b", "--json")
    assert result.code == 0, result.stderr
    assert result.json["added"] == 1
    assert len(walks) == 1  # add's own freshness check; the update walks nothing
    assert rescans == ["b"]
    walks.clear()
    rescans.clear()
    # The next reading command still checks the whole KB, finds "b" moved
    # since its recorded digest, rescans it (nothing new) and records the KB as current.
    assert run_cli("search", "elbow", "--json").ids() == ["b/elbow-care"]
    assert len(walks) == 1 and rescans == ["b"]
    rescans.clear()
    assert run_cli("search", "elbow", "--json").ids() == ["b/elbow-care"]
    assert rescans == []
    same_as_full_build(folders_kb)


def test_a_touched_update_leaves_other_changes_to_the_next_reading_command(folders_kb, rescans):
    (folders_kb / "b" / "wrist.txt").write_text(article("Wrist pain from typing."), encoding="utf-8")
    (folders_kb / "c" / "ankle.txt").write_text(article("Ankle sprains heal with rest."), encoding="utf-8")
    report = reindex(kb_of(folders_kb), touched=["b/wrist.txt"])
    assert report.added == ["b/wrist"] and rescans == ["b"]
    assert run_cli("search", "ankle", "--json").ids() == ["c/ankle"]
    same_as_full_build(folders_kb)


def test_a_touched_file_in_a_new_folder_takes_the_whole_update(folders_kb, rescans):
    (folders_kb / "e").mkdir()
    (folders_kb / "e" / "hip.txt").write_text(article("Hip mobility drills."), encoding="utf-8")
    report = reindex(kb_of(folders_kb), touched=["e/hip.txt"])
    assert report.added == ["e/hip"]
    assert rescans == ["", "e"]  # found by the walk: the root moved, "e" is new
    assert run_cli("search", "hip", "--json").ids() == ["e/hip"]
    same_as_full_build(folders_kb)


def test_a_non_ascii_name_turns_the_kb_over_to_whole_scans(folders_kb, rescans):
    # Names that differ only in Unicode form share an id across folders,
    # which only a scan of the whole KB can settle.
    (folders_kb / "b" / "caf\u00e9.txt").write_text(article("Coffee and sleep."), encoding="utf-8")
    report = reindex(kb_of(folders_kb))
    assert report.added == ["b/caf\u00e9"]
    assert rescans == ["b"]  # tried, then handed over
    assert catalog_tables(folders_kb)["meta"] == [("0",)]
    rescans.clear()
    (folders_kb / "c" / "cafe\u0301.txt").write_text(article("Coffee again, other form."), encoding="utf-8")
    report = reindex(kb_of(folders_kb))
    assert report.added == ["c/cafe\u0301"] and rescans == []
    same_as_full_build(folders_kb)
    (folders_kb / "b" / "caf\u00e9.txt").unlink()
    (folders_kb / "c" / "cafe\u0301.txt").unlink()
    reindex(kb_of(folders_kb))
    assert catalog_tables(folders_kb)["meta"] == [("1",)]  # plain names again: back to folder scans


def test_a_rename_that_keeps_the_id_updates_the_path(folders_kb):
    (folders_kb / "d" / "item-2.txt").rename(folders_kb / "d" / "item-2.TXT")
    report = reindex(kb_of(folders_kb))
    assert not report.changed
    assert ("d/item-2", "d/item-2.TXT") in [row[:2] for row in catalog_tables(folders_kb)["articles"]]
    assert run_cli("show", "d/item-2").code == 0
    same_as_full_build(folders_kb)


def stats_given(monkeypatch) -> dict[str, dict]:
    """The ``stats`` each rescanned folder got from the walk, by folder."""
    given: dict[str, dict] = {}
    real = folderscan.scan_folders

    def spy(root, folders, **kwargs):
        for rel in folders:
            given[rel] = dict(kwargs.get("stats") or {})
        return real(root, folders, **kwargs)

    monkeypatch.setattr(folderscan, "scan_folders", spy)
    return given


def test_reindex_takes_the_walk_it_started_and_rescans_with_its_stats(folders_kb):
    from healthkb.index import update

    target = folders_kb / "d" / "item-1.txt"
    target.write_text(article("Quinoa porridge for breakfast."), encoding="utf-8")
    bump_mtime(target)
    with pytest.MonkeyPatch.context() as patch:
        walks = count_walks(patch)
        patch.setattr(update, "tree_state", lambda *args, **kwargs: pytest.fail("the update walked the KB again"))
        given = stats_given(patch)
        result = run_cli("reindex", "--json")
    assert result.code == 0, result.stderr
    assert (result.json["added"], result.json["updated"], result.json["removed"]) == (0, 1, 0)
    assert walks == [str(folders_kb)]  # the one cli.main started in the background
    # The changed file was not stat-ed again: the walk's stat was used (and
    # the folder's unchanged files were not looked at).
    stat = target.stat()
    assert given["d"] == {os.path.join(os.path.realpath(folders_kb / "d"), "item-1.txt"): (stat.st_size, stat.st_mtime_ns)}
    assert run_cli("search", "quinoa", "--json").ids() == ["d/item-1"]
    same_as_full_build(folders_kb)


def test_an_edit_after_the_walk_is_taken_in_by_the_next_update(folders_kb):
    from healthkb import freshness
    from healthkb.index import api

    target = folders_kb / "c" / "item-0.txt"

    def walk_then_edit(root, *args):
        state = freshness.background_tree_state(root, *args)
        # Saved between the walk and the update: the update records the
        # stat the walk took, so the next walk sees the file moved.
        target.write_text(article("Buckwheat pancakes, second version."), encoding="utf-8")
        bump_mtime(target, 4)
        return state

    target.write_text(article("Buckwheat pancakes."), encoding="utf-8")
    bump_mtime(target)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "background_tree_state", walk_then_edit)
        assert run_cli("reindex", "--json").code == 0
    assert run_cli("search", "second version", "--json").ids() == ["c/item-0"]
    same_as_full_build(folders_kb)


@pytest.fixture
def looked_at(monkeypatch) -> dict[str, set[str]]:
    """Per rescanned folder, the ``*.txt`` files its scan classified (those
    not left out as unchanged)."""
    seen: dict[str, set[str]] = {}
    real = folderscan.scan_folders

    def spy(root, folders, **kwargs):
        for rel in folders:
            names = {p.name for p in (Path(root) / rel).iterdir() if p.name.lower().endswith(".txt")}
            seen[rel] = names - set(kwargs.get("skip") or ())
        return real(root, folders, **kwargs)

    monkeypatch.setattr(folderscan, "scan_folders", spy)
    return seen


def save_in_place(path: Path, data: bytes) -> None:
    """Overwrite a file's bytes, keeping its inode (its folder's mtime stays)."""
    with open(path, "r+b") as handle:
        handle.truncate(0)
        handle.write(data)
    bump_mtime(path)


@pytest.mark.parametrize(("rel", "data", "gone"), [
    ("b/item-2.txt", article("Oat bran and sleep, rewritten in place.").encode(), False),
    ("root-note.txt", article("The top note, rewritten in place.").encode(), False),
    ("a/deep/item-0.txt", b"", True),  # emptied: skipped now, and out of the index
    ("d/item-3.txt", b"\x00\x01binary now", True),
])
def test_a_file_saved_in_place_is_the_only_one_looked_at(folders_kb, looked_at, rel, data, gone):
    folder, _slash, name = rel.rpartition("/")
    save_in_place(folders_kb / rel, data)
    report = reindex(kb_of(folders_kb))
    article_id = rel[:-4]
    assert (report.updated, report.removed) == (([], [article_id]) if gone else ([article_id], []))
    assert looked_at == {folder: {name}}  # neither the folder's other files nor other folders
    assert [s.path for s in report.skipped] == ([rel] if gone else [])
    same_as_full_build(folders_kb)


def test_files_added_and_removed_are_the_only_ones_looked_at(folders_kb, looked_at):
    (folders_kb / "c" / "wrist.txt").write_text(article("Wrist pain from typing."), encoding="utf-8")
    (folders_kb / "c" / ".draft.txt").write_text(article("A hidden draft."), encoding="utf-8")
    (folders_kb / "d" / "item-0.txt").unlink()
    (folders_kb / "d" / "item-1.txt").rename(folders_kb / "d" / "renamed.txt")
    report = reindex(kb_of(folders_kb))
    assert (report.added, report.removed) == (["c/wrist", "d/renamed"], ["d/item-0", "d/item-1"])
    assert looked_at == {"c": {"wrist.txt", ".draft.txt"}, "d": {"renamed.txt"}}
    assert [s.path for s in report.skipped] == ["c/.draft.txt"]  # hidden entries are still classified
    same_as_full_build(folders_kb)


def test_a_file_that_is_no_article_is_looked_at_again(folders_kb, looked_at):
    (folders_kb / "a" / "empty.txt").write_bytes(b"")
    reindex(kb_of(folders_kb))
    looked_at.clear()
    save_in_place(folders_kb / "a" / "item-0.txt", article("Edited beside an empty file.").encode())
    report = reindex(kb_of(folders_kb))
    assert report.updated == ["a/item-0"]
    assert looked_at == {"a": {"item-0.txt", "empty.txt"}}  # the empty one has no row to match
    assert [s.path for s in report.skipped] == ["a/empty.txt"]
    same_as_full_build(folders_kb)


def test_a_new_file_sharing_an_unchanged_ones_id_takes_the_whole_folder(folders_kb, looked_at):
    (folders_kb / "b" / "item-3.TXT").write_text(article("Same id as item-3."), encoding="utf-8")
    report = reindex(kb_of(folders_kb))
    assert not report.changed
    assert looked_at == {"b": {f"item-{n}.txt" for n in range(4)} | {"item-3.TXT"}}
    assert [(s.path, s.reason.startswith("same article id as b/item-3.txt")) for s in report.skipped] == [("b/item-3.TXT", True)]
    (folders_kb / "b" / "item-3.txt").unlink()  # the .TXT one takes the id over
    report = reindex(kb_of(folders_kb))
    assert report.updated == ["b/item-3"] and report.skipped == []
    assert run_cli("show", "b/item-3").stdout.count("Same id as item-3.") == 1
    same_as_full_build(folders_kb)
