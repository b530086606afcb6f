"""The freshness digest taken in a background process (freshness.py): the
same digest as a walk in-process, given once and only for the folder it
walked; every way it can fail gives None, so the reader walks itself and
never answers from a stale index."""

from __future__ import annotations

import os
import threading

import pytest

from clihelp import article, run_cli
from healthkb import freshness
from healthkb.cli import _start_freshness_walk
from healthkb.freshness import background_tree_state, discard_background_walk, start_background_walk, tree_state

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the background walk needs fork (POSIX)")


@pytest.fixture(autouse=True)
def no_walk_left_behind():
    yield
    discard_background_walk()


def _pending_pid() -> int:
    assert freshness._background is not None
    return freshness._background[0]


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_background_digest_is_the_in_process_one(make_kb):
    root = make_kb({"sleep/a.txt": article("Sleep well."), "b.txt": article("Water."), "c/d/e.txt": article("Deep.")})
    assert start_background_walk(lambda: root)
    pid = _pending_pid()
    folders, expected_folders, listings, expected_listings = {}, {}, {}, {}
    assert background_tree_state(root, folders, listings) == tree_state(root, folders=expected_folders, listings=expected_listings)
    assert folders == expected_folders and len(folders) == 4  # the root, sleep, c, c/d
    assert listings == {}  # not asked for: not sent
    assert freshness._background is None and _reaped(pid)
    assert start_background_walk(lambda: root, listings=True)
    assert background_tree_state(root, folders, listings) == tree_state(root)
    assert listings == expected_listings and len(listings) == 4


def test_the_background_digest_is_given_once(make_kb):
    root = make_kb({"a.txt": article("Sleep well.")})
    assert start_background_walk(lambda: root)
    assert background_tree_state(root) == tree_state(root)
    assert background_tree_state(root) is None  # a later check walks for itself


def test_a_walk_of_another_folder_is_not_used(make_kb, tmp_path):
    root = make_kb({"a.txt": article("Sleep well.")})
    other = make_kb({"b.txt": article("Water.")}, root=tmp_path / "other")
    assert start_background_walk(lambda: other)
    assert background_tree_state(root) is None


def test_a_failing_child_gives_no_digest(make_kb):
    root = make_kb({"a.txt": article("Sleep well.")})

    def broken():
        raise OSError("no such folder")

    assert start_background_walk(broken)
    pid = _pending_pid()
    assert background_tree_state(root) is None
    assert _reaped(pid)
    assert start_background_walk(lambda: None)  # nothing to walk: nothing sent
    assert background_tree_state(root) is None


def test_without_fork_there_is_no_background_walk(make_kb, monkeypatch):
    root = make_kb({"a.txt": article("Sleep well.")})
    monkeypatch.delattr(os, "fork")
    assert not start_background_walk(lambda: root)
    assert freshness._background is None
    assert background_tree_state(root) is None


def test_no_fork_beside_other_threads(make_kb):
    root = make_kb({"a.txt": article("Sleep well.")})
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not start_background_walk(lambda: root)
    finally:
        stop.set()
        other.join()


def test_an_uncollected_walk_is_stopped_and_reaped(make_kb):
    root = make_kb({"a.txt": article("Sleep well.")})
    assert start_background_walk(lambda: root)
    pid = _pending_pid()
    discard_background_walk()
    assert freshness._background is None and _reaped(pid)
    assert start_background_walk(lambda: root)
    pid = _pending_pid()
    assert start_background_walk(lambda: root)  # a second start replaces (and reaps) the first
    assert _reaped(pid)


@pytest.mark.parametrize(("argv", "walked"), [
    (["search", "lumbar"], "env"),
    (["--kb", "KB", "show", "x"], "KB"),
    (["search", "lumbar", "--kb=KB"], "KB"),
    (["--no-pager", "links", "x"], "env"),
    (["--no-refresh", "search", "lumbar"], None),
    (["search", "--help"], None),
    (["add", "file.txt"], "env"),  # add and edit check the whole KB first
    (["--kb=KB", "edit", "x"], "KB"),
    (["reindex"], "env"),  # its update takes the walk
    (["reindex", "--full"], None),  # a rebuild stats every file for itself
    (["new", "Title"], None),
    (["--kb", "search", "init", "x"], None),  # "search" is the folder here, "init" the command
    (["search", "--", "--no-refresh"], "env"),
])
def test_reading_and_updating_commands_start_the_walk(argv, walked, isolated_env, monkeypatch):
    started, with_listings = [], []
    monkeypatch.setattr("healthkb.cli.start_background_walk",
                        lambda find_root, listings=False: started.append(find_root()) or with_listings.append(listings))
    _start_freshness_walk(argv)
    expected = [] if walked is None else [isolated_env.kb if walked == "env" else os.path.expanduser(walked)]
    assert [str(p) for p in started] == [str(p) for p in expected]
    # Only a command that updates the index has the listings sent.
    assert with_listings == [bool({"add", "edit", "reindex"} & set(argv))] * len(expected)
    monkeypatch.setenv("HEALTHKB_NO_REFRESH", "1")
    started.clear()
    _start_freshness_walk(argv)
    assert started == []


def test_a_search_sees_an_edit_through_the_background_walk(make_kb, monkeypatch):
    kb = make_kb({"a.txt": article("Magnesium in nuts."), "b.txt": article("Drink water.")})
    assert run_cli("search", "magnesium", "--json").ids() == ["a"]
    collected = []
    real_collect = freshness.background_tree_state
    monkeypatch.setattr("healthkb.index.api.background_tree_state",
                        lambda root, *args: collected.append(real_collect(root, *args)) or collected[-1])
    assert run_cli("search", "magnesium", "--json").ids() == ["a"]
    assert collected[-1] is not None  # nothing changed: the child's digest answered
    (kb / "c.txt").write_text(article("Zucchini soup."))
    assert run_cli("search", "zucchini", "--json").ids() == ["c"]  # it differed: the update used it
    assert len(collected) == 2 and collected[-1] is not None
    assert freshness._background is None


def test_an_edit_is_seen_without_the_background_walk(make_kb, monkeypatch):
    kb = make_kb({"a.txt": article("Magnesium in nuts.")})
    assert run_cli("search", "magnesium", "--json").ids() == ["a"]
    monkeypatch.setattr("healthkb.cli.start_background_walk", lambda find_root, **options: False)
    (kb / "a.txt").write_text(article("Zucchini soup."))
    assert run_cli("search", "zucchini", "--json").ids() == ["a"]


# ---------------------------------------------------------------- the walk split over two processes


def _serial(root, folders=None) -> str:
    """tree_state with the split walk unavailable: one process walks all."""
    saved = freshness._fork_walk
    freshness._fork_walk = lambda *args: None
    try:
        return tree_state(root, folders=folders)
    finally:
        freshness._fork_walk = saved


@pytest.fixture
def kb_root(tmp_path):
    root = tmp_path / "walked"  # tmp_path also holds the isolated home and KB
    root.mkdir()
    return root


def _tree(root, layout: dict[str, str]) -> None:
    for rel, text in layout.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


LAYOUT = {f"{folder}/{sub}/a{n}.txt": f"# T {folder} {n}\nBody {n} |\n"
          for folder in ("back", "heart", "sleep", "skin", "gut") for sub in ("x", "y") for n in range(3)}


@pytest.mark.parametrize("folders", [1, 2, 3, 5])
def test_the_split_walk_gives_the_serial_digest_and_folder_digests(kb_root, folders):
    kept = {rel: text for rel, text in LAYOUT.items() if rel.split("/")[0] in ("back", "heart", "sleep", "skin", "gut")[:folders]}
    _tree(kb_root, {**kept, "top.txt": "# Top\nAt the root |\n", "notes.md": "not an article"})
    children = []
    real_fork = freshness._fork_walk
    freshness._fork_walk = lambda *args: children.append(real_fork(*args)) or children[-1]
    try:
        split_folders: dict[str, bytes] = {}
        split = tree_state(kb_root, folders=split_folders)
    finally:
        freshness._fork_walk = real_fork
    serial_folders: dict[str, bytes] = {}
    assert split == _serial(kb_root, serial_folders)
    assert split_folders == serial_folders and len(serial_folders) == 1 + 3 * folders
    # A child walked half (one subfolder: nothing to split).
    assert [child is not None for child in children] == ([True] if folders >= 2 else [])


def test_a_change_in_either_half_moves_the_split_digest(kb_root):
    _tree(kb_root, LAYOUT)
    before = tree_state(kb_root)
    for rel in ("back/x/a0.txt", "gut/y/a2.txt"):  # first and last top-level folder
        path = kb_root / rel
        path.write_text(path.read_text("utf-8") + "more", "utf-8")
        after = tree_state(kb_root)
        assert after != before and after == _serial(kb_root)
        before = after


def test_a_folder_reached_from_both_halves_is_counted_as_the_serial_walk_counts_it(kb_root):
    _tree(kb_root, LAYOUT)
    # A link inside the KB from one top-level folder into another: both
    # halves would walk it; the serial walk visits it once.
    tops = ("back", "heart", "sleep", "skin", "gut")
    for top in tops:  # every folder links into every other: some links cross the halves
        for other in tops:
            if other != top:
                os.symlink(kb_root / other / "x", kb_root / top / f"to-{other}")
    folders: dict[str, bytes] = {}
    serial_folders: dict[str, bytes] = {}
    assert tree_state(kb_root, folders=folders) == _serial(kb_root, serial_folders)
    assert folders == serial_folders


def test_unreadable_and_oddly_named_entries_split_like_the_serial_walk(kb_root):
    _tree(kb_root, LAYOUT)
    odd = os.fsencode(kb_root / "heart") + b"/caf\xe9.txt"  # not UTF-8: a surrogate in the name
    with open(odd, "wb") as handle:
        handle.write(b"# Cafe\nBody |\n")
    (kb_root / "sleep" / "locked").mkdir()
    os.chmod(kb_root / "sleep" / "locked", 0)
    try:
        assert tree_state(kb_root) == _serial(kb_root)
    finally:
        os.chmod(kb_root / "sleep" / "locked", 0o755)


def test_a_failed_child_leaves_the_walk_to_this_process(kb_root, monkeypatch):
    _tree(kb_root, LAYOUT)
    monkeypatch.setattr(freshness, "_collect_walk", lambda child: (freshness._reap(child[0]), os.close(child[1]), None)[-1])
    assert tree_state(kb_root) == _serial(kb_root)


# ---------------------------------------------------------------- what the walk hands to an update


def test_each_folder_listing_gives_the_stats_a_scan_would_take(kb_root):
    _tree(kb_root, LAYOUT)
    os.symlink("nowhere", kb_root / "heart" / "x" / "gone.txt")  # listed, cannot be stat-ed
    listings: dict[str, tuple[bytes, bytes]] = {}
    folders: dict[str, bytes] = {}
    split = tree_state(kb_root, folders=folders, listings=listings)
    stats: dict[str, tuple[int, int]] = {}
    serial_listings: dict[str, tuple[bytes, bytes]] = {}
    assert tree_state(kb_root, stats, listings=serial_listings) == split  # with stats: one process walks
    assert listings == serial_listings and set(listings) == set(folders)
    root = os.path.realpath(kb_root)
    broken = os.path.join(root, "heart", "x")
    for folder, listing in listings.items():
        expected = {path: stat for path, stat in stats.items() if os.path.dirname(path) == folder}
        expected = {os.path.basename(path): stat for path, stat in expected.items()}
        assert freshness.listed_stats(listing) == (None if folder == broken else expected)
    assert len(freshness.listed_stats(listings[os.path.join(root, "gut", "y")])) == 3


def test_a_walk_by_path_gives_the_walk_by_descriptor(kb_root, monkeypatch):
    _tree(kb_root, {**LAYOUT, "top.txt": "# Top\nAt the root |\n"})
    os.symlink(kb_root / "back", kb_root / "gut" / "to-back")
    by_descriptor: dict[str, bytes] = {}
    state = _serial(kb_root, by_descriptor)
    monkeypatch.setattr(freshness, "_BY_DESCRIPTOR", False)  # as where os.scandir takes no descriptor
    by_path: dict[str, bytes] = {}
    assert _serial(kb_root, by_path) == state and by_path == by_descriptor
