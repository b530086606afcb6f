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
    folders, expected_folders = {}, {}
    assert background_tree_state(root, folders) == tree_state(root, folders=expected_folders)
    assert folders == expected_folders and len(folders) == 4  # the root, sleep, c, c/d
    assert freshness._background is None and _reaped(pid)


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
    (["add", "file.txt"], None),
    (["reindex"], None),
    (["--kb", "search", "add", "x"], None),  # "search" is the folder here, "add" the command
    (["search", "--", "--no-refresh"], "env"),
])
def test_reading_commands_start_the_walk(argv, walked, isolated_env, monkeypatch):
    started = []
    monkeypatch.setattr("healthkb.cli.start_background_walk", lambda find_root: started.append(find_root()))
    _start_freshness_walk(argv)
    expected = [] if walked is None else [isolated_env.kb if walked == "env" else os.path.expanduser(walked)]
    assert [str(p) for p in started] == [str(p) for p in expected]
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
                        lambda root, folders=None: collected.append(real_collect(root, folders)) or collected[-1])
    assert run_cli("search", "magnesium", "--json").ids() == ["a"]
    assert collected[-1] is not None  # nothing changed: the child's digest answered
    (kb / "c.txt").write_text(article("Zucchini soup."))
    assert run_cli("search", "zucchini", "--json").ids() == ["c"]  # it differed: the update used it
    assert len(collected) == 2 and collected[-1] is not None
    assert freshness._background is None


def test_an_edit_is_seen_without_the_background_walk(make_kb, monkeypatch):
    kb = make_kb({"a.txt": article("Magnesium in nuts.")})
    assert run_cli("search", "magnesium", "--json").ids() == ["a"]
    monkeypatch.setattr("healthkb.cli.start_background_walk", lambda find_root: False)
    (kb / "a.txt").write_text(article("Zucchini soup."))
    assert run_cli("search", "zucchini", "--json").ids() == ["a"]
