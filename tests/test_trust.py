"""Issue 13 (trust): reads always see the KB as it is, writes fail cleanly,
names and text shown to a person are unambiguous.

Each test here reproduces one finding of the issue on real files; see the
README's Reliability section for which promise each one proves.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import pytest
from clihelp import article, run_cli, starter_files

MAGNESIUM = article("Magnesium helps muscles relax after exercise and supports sleep.")


def _edit_in_place(path: Path, old: str, new: str) -> None:
    """Rewrite ``path`` in place (same inode, as an editor's save does),
    keeping the byte size, and make sure the mtime moves on."""
    data = path.read_bytes()
    assert old.encode() in data
    replaced = data.replace(old.encode(), new.ljust(len(old)).encode())
    assert len(replaced) == len(data)
    before = path.stat()
    with open(path, "r+b") as handle:
        handle.write(replaced)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert path.stat().st_ino == before.st_ino and path.stat().st_size == before.st_size


# -- freshness -------------------------------------------------------------------


def test_in_place_edit_is_seen_by_search(make_kb):
    kb = make_kb({"minerals/mineral.txt": MAGNESIUM, "other/water.txt": article("Drink water every day.")})
    assert run_cli("search", "magnesium", "--json").ids() == ["minerals/mineral"]
    folder_mtime = (kb / "minerals").stat().st_mtime_ns
    _edit_in_place(kb / "minerals" / "mineral.txt", "Magnesium", "zucchini")
    assert (kb / "minerals").stat().st_mtime_ns == folder_mtime  # no folder changed: only the file
    assert run_cli("search", "zucchini", "--json").ids() == ["minerals/mineral"]
    assert run_cli("search", "magnesium", "--json").code == 1


def test_rename_and_remove_are_seen(make_kb):
    kb = make_kb({"a/mineral.txt": MAGNESIUM, "b/water.txt": article("Drink water every day.")})
    assert run_cli("search", "magnesium", "--json").ids() == ["a/mineral"]
    os.rename(kb / "a" / "mineral.txt", kb / "a" / "mg.txt")
    assert run_cli("search", "magnesium", "--json").ids() == ["a/mg"]
    (kb / "b" / "water.txt").unlink()
    assert run_cli("search", "water", "--json").code == 1


def test_no_refresh_skips_the_check(make_kb, monkeypatch):
    kb = make_kb({"magnesium.txt": MAGNESIUM})
    run_cli("reindex")
    _edit_in_place(kb / "magnesium.txt", "Magnesium", "zucchini")
    assert run_cli("--no-refresh", "search", "zucchini", "--json").code == 1
    monkeypatch.setenv("HEALTHKB_NO_REFRESH", "1")
    assert run_cli("search", "zucchini", "--json").code == 1
    monkeypatch.delenv("HEALTHKB_NO_REFRESH")
    assert run_cli("search", "zucchini", "--json").ids() == ["magnesium"]


# -- full disk -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MB file system (tmpfs), when this machine lets us mount one
    (root on Linux); the test is skipped elsewhere."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not allowed here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path, leave_kib: int = 0) -> Path:
    """Take the free space of ``disk`` down to about ``leave_kib`` KiB."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free // 1024
    with open(filler, "wb") as handle:
        try:
            for _ in range(max(free - leave_kib, 0)):
                handle.write(b"\0" * 1024)
            handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def _starter_kb(root: Path) -> Path:
    root.mkdir()
    for rel, data in starter_files().items():
        (root / Path(rel).name).write_bytes(data)
    return root


def test_reads_work_on_a_full_disk(small_disk, monkeypatch):
    kb = _starter_kb(small_disk / "kb")
    monkeypatch.setenv("HEALTHKB_KB", str(kb))
    assert run_cli("reindex").code == 0
    expected = run_cli("search", "sleep", "--json").ids()
    _fill(small_disk)
    for args in (("show", expected[0]), ("list",), ("check",), ("stats",)):
        result = run_cli(*args)
        assert result.code in ((0, 1) if args == ("check",) else (0,)), (args, result.stderr)  # check: 1 = problems found
        assert len(result.notices()) <= 1
    assert run_cli("search", "sleep", "--json").ids() == expected
    # A stale index on a full disk: the refresh cannot be written, so the
    # answer comes from the last index, with one notice saying so.
    (kb / "extra.txt").write_text("x" * 0)  # even an empty file fits: it changes the folder
    result = run_cli("search", "sleep", "--json")
    assert result.ids() == expected
    assert len(result.notices()) == 1 and "no space left on device" in result.notices()[0]


def test_writes_on_a_full_disk_fail_cleanly(small_disk, monkeypatch):
    kb = _starter_kb(small_disk / "kb")
    monkeypatch.setenv("HEALTHKB_KB", str(kb))
    assert run_cli("reindex").code == 0
    expected = run_cli("search", "sleep", "--json").ids()
    state = kb / ".healthkb"
    before = sorted(p.name for p in state.iterdir())
    _fill(small_disk, leave_kib=120)  # room for the lock, not for a new index
    result = run_cli("reindex", "--full")
    assert result.code == 3
    assert "no space left on device while writing" in result.stderr
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith("catalog.sqlite-")) == before
    assert run_cli("search", "sleep", "--json").ids() == expected
    new = small_disk / "new.txt"
    new.write_text(article("Zucchini soup for a cold evening."))
    # Room for the copy, not for indexing it: an update of one file needs
    # some tens of KiB, about what the failed build left free.
    (small_disk / "filler").unlink()
    _fill(small_disk, leave_kib=24)
    result = run_cli("add", str(new))
    assert result.code == 3 and "no space left on device" in result.stderr
    assert not [p for p in kb.iterdir() if p.name.startswith(".add-")]


def test_output_to_a_full_device_is_not_an_internal_error(make_kb):
    make_kb({"sleep.txt": article("Sleep well.")})
    done = subprocess.run(
        [sys.executable, "-m", "healthkb", "show", "sleep"],
        stdout=open("/dev/full", "w"), stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    assert done.returncode != 0, done.stderr
    assert "no space left on device" in done.stderr.lower()
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


# -- leftovers -------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_adds_temporary_file_is_removed(make_kb):
    kb = make_kb({"topic/sleep.txt": article("Sleep well.")})
    leftover = kb / "topic" / f".add-{_dead_pid()}-k1ll3d.tmp"
    leftover.write_bytes(b"Half an arti")
    running = kb / "topic" / f".add-{os.getpid()}-busy.tmp"  # this process's own: not running a copy now
    alive = kb / "topic" / f".add-{os.getppid()}-copying.tmp"  # a live process: a copy in progress
    running.write_bytes(b"x")
    alive.write_bytes(b"y")
    assert run_cli("list").code == 0
    assert not leftover.exists() and not running.exists()
    assert alive.exists()


def test_check_reports_a_temporary_file_it_cannot_remove(make_kb, monkeypatch):
    kb = make_kb({"topic/sleep.txt": article("Sleep well.")})
    leftover = kb / "topic" / f".add-{_dead_pid()}-k1ll3d.tmp"
    leftover.write_bytes(b"Half an arti")
    real_unlink = os.unlink

    def refuse(path, *args, **kwargs):
        if os.fspath(path) == str(leftover):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse)
    result = run_cli("check")
    assert leftover.exists()
    assert result.code == 1 and leftover.name in result.stdout and "stopped copy" in result.stdout


def test_500_nested_folders(make_kb):
    kb = make_kb({"top.txt": article("Top of the tree.")})
    deep = kb.joinpath(*["d"] * 500)
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text(article("Deep down lives the zucchini."))
    result = run_cli("search", "zucchini", "--json")
    assert result.code == 0 and result.ids() == ["/".join(["d"] * 500) + "/bottom"]
    assert run_cli("check").code in (0, 1)


# -- output paths ----------------------------------------------------------------


def test_export_into_a_fifo_writes_to_it(make_kb, tmp_path):
    make_kb({"sleep.txt": article("Sleep well.")})
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = run_cli("export", "-o", str(fifo))
    reader.join(timeout=10)
    assert result.code == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not replaced by a file
    assert b'"id":"sleep"' in received[0]


def test_graph_into_a_device_writes_to_it(make_kb, tmp_path):
    make_kb({"sleep.txt": article("Sleep well.")})
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    except PermissionError:
        pytest.skip("making a device node needs root")
    assert run_cli("graph", "-o", str(device)).code == 0
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert run_cli("export", "-o", "-").code == 0  # "-" is stdout, never a file named "-"
    assert not Path("-").exists()


def test_export_over_an_article_is_refused(make_kb):
    kb = make_kb({"sleep.txt": article("Sleep well."), "topic/water.txt": article("Drink water.")})
    before = (kb / "topic" / "water.txt").read_bytes()
    for target in (kb / "topic" / "water.txt", kb / "topic" / "new.txt", kb / "topic" / "NEW.TXT"):
        result = run_cli("export", "-o", str(target))
        assert result.code == 2 and "article" in result.stderr, result.stderr
        result = run_cli("graph", "-o", str(target))
        assert result.code == 2
    assert (kb / "topic" / "water.txt").read_bytes() == before
    assert not (kb / "topic" / "new.txt").exists()
    assert run_cli("export", "-o", str(kb / "export.jsonl")).code == 0  # not an article: fine
    assert run_cli("export", "-o", str(kb / "topic" / "water.txt"), "--force").code == 0
    assert (kb / "topic" / "water.txt").read_bytes().startswith(b'{"schema"')


# -- the .healthkb folder --------------------------------------------------------


def test_a_symlinked_state_folder_is_refused(make_kb, tmp_path):
    kb = make_kb({"sleep.txt": article("Sleep well.")})
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "whoosh-1").mkdir(parents=True)
    (elsewhere / "catalog.sqlite").write_bytes(b"not ours")
    (elsewhere / "whoosh-1" / "precious").write_text("keep me")
    (kb / ".healthkb").symlink_to(elsewhere, target_is_directory=True)
    for args in (("search", "sleep"), ("reindex", "--full"), ("list",)):
        result = run_cli(*args)
        assert result.code == 3, result.stderr
        assert "symbolic link" in result.stderr
    assert (elsewhere / "catalog.sqlite").read_bytes() == b"not ours"
    assert (elsewhere / "whoosh-1" / "precious").read_text() == "keep me"


def test_a_state_folder_of_another_user_is_refused(make_kb):
    kb = make_kb({"sleep.txt": article("Sleep well.")})
    assert run_cli("reindex").code == 0
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    os.chown(kb / ".healthkb", 54321, 54321)
    result = run_cli("search", "sleep")
    assert result.code == 3 and "belongs to another user" in result.stderr


def test_a_rebuild_deletes_only_its_own_generations(make_kb, tmp_path):
    kb = make_kb({"sleep.txt": article("Sleep well.")})
    assert run_cli("reindex").code == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    (kb / ".healthkb" / "whoosh-99").symlink_to(outside, target_is_directory=True)
    (kb / ".healthkb" / "whoosh-notes").mkdir()
    assert run_cli("reindex", "--full").code == 0
    assert (outside / "precious").read_text() == "keep me"
    assert (kb / ".healthkb" / "whoosh-notes").is_dir()


# -- sanitising ------------------------------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f", "\u061c", "\U000e0041", "\U000e007f"]


def _assert_nothing_invisible(*texts: str) -> None:
    for text in texts:
        for char in INVISIBLE:
            assert char not in text, (f"U+{ord(char):04X}", text)


def test_invisible_characters_are_shown_everywhere(make_kb):
    body = "Sleep" + "".join(INVISIBLE) + " is good for you."
    make_kb({"sleep.txt": article(body), "sle\u200bep.txt": article("A look-alike id."), "rtl\u200f.txt": article("Marks.")})
    listed = run_cli("list")
    assert "sle<U+200B>ep" in listed.stdout and "rtl<U+200F>" in listed.stdout
    shown = run_cli("show", "sleep", "--width", "200")
    assert "<U+200B><U+200C><U+200D><U+2060><U+FEFF><U+00AD><U+200E><U+200F><U+061C><U+E0041><U+E007F>" in shown.stdout
    missing = run_cli("show", "no\u200bsuch\U000e0041")
    assert missing.code == 1 and "no<U+200B>such<U+E0041>" in missing.stderr
    runs = [listed, shown, missing, run_cli("search", "sleep"), run_cli("links", "sle\u200bep"), run_cli("check")]
    for result in runs:
        _assert_nothing_invisible(result.stdout, result.stderr)


def test_invisible_characters_do_not_break_matching(make_kb):
    make_kb({"sleep.txt": article("Zuc\u200bchini soup is warm.")})
    assert run_cli("search", "zucchini", "--json").ids() == ["sleep"]
    assert run_cli("search", "zuc\u200bchini", "--json").ids() == ["sleep"]


def test_clicks_own_usage_errors_are_sanitised(make_kb):
    make_kb({"sleep.txt": article("Sleep well.")})
    hostile = "\x1b]0;pwned\x07name\u200b.txt"
    result = run_cli("show", "sleep", hostile, color=True)  # as `healthkb show *` in a folder holding it
    assert result.code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "name<U+200B>.txt" in result.stderr
    result = run_cli("search", "--limit", hostile, "sleep", color=True)
    assert result.code == 2  # click quotes this one with repr(): escaped, never raw
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\u200b" not in result.stderr


# -- unicode ---------------------------------------------------------------------

COMPOSED = "crème brûlée naïve"
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)


def test_decomposed_article_and_composed_query_find_each_other(make_kb):
    assert DECOMPOSED != COMPOSED
    make_kb({
        "dessert.txt": article(f"A {DECOMPOSED} recipe for a quiet evening."),
        "breakfast.txt": article(f"A {COMPOSED} omelette for the morning."),
    })
    for word in ("brûlée", "crème", "naïve", "brulee"):
        for query in (word, unicodedata.normalize("NFD", word)):
            found = run_cli("search", query, "--json")
            assert sorted(found.ids()) == ["breakfast", "dessert"], (query, found.stdout)
    hit = next(h for h in run_cli("search", "brûlée", "--json").json["hits"] if h["id"] == "dessert")
    assert "brûlée" in unicodedata.normalize("NFC", json.dumps(hit, ensure_ascii=False))


def test_decomposed_file_name_is_found_by_a_composed_ref(make_kb):
    make_kb({unicodedata.normalize("NFD", "café.txt"): article("Coffee and sleep.")})
    result = run_cli("show", "café")
    assert result.code == 0, result.stderr
    assert "Coffee and sleep" in result.stdout


# -- ids -------------------------------------------------------------------------


def test_names_that_make_the_same_id_never_share_it(make_kb):
    make_kb({
        "x.txt": article("Lower-case extension about apples."),
        "x.TXT": article("Upper-case extension about pears."),
        "café.txt": article("Composed name about tea."),
        unicodedata.normalize("NFD", "café.txt"): article("Decomposed name about cocoa."),
    })
    listed = run_cli("list", "--json").json["articles"]
    ids = [a["id"] for a in listed]
    assert len(ids) == len(set(ids)) == 2
    assert run_cli("search", "apples", "--json").ids() == ["x"]
    assert run_cli("search", "pears", "--json").code == 1  # skipped, not shown with apples' text
    assert run_cli("search", "tea", "--json").ids() == ["café"]
    checked = run_cli("check")
    assert checked.code == 1
    assert "x.TXT" in checked.stdout and "same article id as x.txt" in checked.stdout
    assert "same article id as café.txt" in checked.stdout
    stats = run_cli("stats", "--json").json
    assert stats["articles"] == 2
