"""Issue 13 (trust): reads always see the KB as it is, writes fail cleanly,
names and text shown to a person are unambiguous.

Each test here reproduces one finding of the issue on real files; see the
README's Reliability section for which promise each one proves.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from clihelp import article, run_cli

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
