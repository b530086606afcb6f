"""Concurrency (SPEC §3, issue 8): one writer at a time, readers never block
and never see a half-written index.

Real ``healthkb`` processes run against one KB at the same time: two
``reindex``, ``add`` with ``reindex``, and ``search`` in a loop during a full
rebuild.  Either both writers finish, or the one that waited exits 3 naming
the holder; afterwards the Whoosh index, the catalog and the folder agree on
every article, once.  The second process is started once the first holds the
lock (its pid is in the lock file), so the two always overlap.

One test replays, deterministically and in-process, the race a reader can
lose: it reads the current generation just before a full rebuild switches to
the next one and deletes it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from healthkb.files import STATE_DIR_NAME
from healthkb.index.api import open_index, reindex
from healthkb.kb import KB

REPO_DIR = Path(__file__).resolve().parents[1]
MAKE_CORPUS = REPO_DIR / "scripts" / "make_corpus.py"
CORPUS_SIZE = 400  # a full build of ~1 s: long enough for a second process to meet its lock
BODY_WORDS = 120
WORD = "lumbar"


# ---------------------------------------------------------------- helpers


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "healthkb", *args]


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str
    pid: int


def finish(proc: subprocess.Popen) -> Done:
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "internal error" not in err, err
    return Done(proc.returncode, out, err, proc.pid)


def run(*args: str, env: dict | None = None) -> Done:
    return finish(start(*args, env=env))


def wait_until_locked_by(proc: subprocess.Popen, state: Path, timeout: float = 60) -> None:
    """Return once ``proc`` holds the write lock (the lock file names its pid)."""
    lock = state / "write.lock"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if f"pid {proc.pid} " in lock.read_text(encoding="utf-8", errors="replace"):
                return
        except FileNotFoundError:
            pass
        assert proc.poll() is None, f"the first writer ended before it was seen holding the lock: {proc.communicate()}"
        assert time.monotonic() < deadline, "the first writer never took the lock"
        time.sleep(0.005)


def article_ids(root: Path) -> set[str]:
    return {p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.txt") if STATE_DIR_NAME not in p.parts}


def assert_index_matches_files(root: Path) -> None:
    """Whoosh documents == catalog rows == .txt files, and the same ids."""
    files = article_ids(root)
    with open_index(KB(root.resolve(), "option"), refresh=False) as ix:
        searcher = ix.searcher()
        indexed = sorted(fields["id"] for _n, fields in searcher.searcher.reader().iter_docs())
        assert searcher.doc_count() == ix.catalog.count() == len(files), (searcher.doc_count(), ix.catalog.count(), len(files))
        assert {row_id for row_id, _t in ix.catalog.id_titles()} == files
    assert len(indexed) == len(set(indexed)) and set(indexed) == files


def new_article(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"
    path.write_text(f"{body} |\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built_corpus(tmp_path_factory) -> Path:
    """A synthetic KB (scripts/make_corpus.py, bodies shortened) with its index."""
    base = tmp_path_factory.mktemp("concurrency")
    root = base / "kb"
    subprocess.run([sys.executable, str(MAKE_CORPUS), str(CORPUS_SIZE), str(root), "--seed", "3"],
                   check=True, capture_output=True, timeout=120)
    for path in root.rglob("*.txt"):
        lines = path.read_text(encoding="utf-8").split("\n")
        lines[0] = " ".join(lines[0].removesuffix(" |").split(" ")[:BODY_WORDS]) + " |"
        path.write_text("\n".join(lines), encoding="utf-8")
    env = {**os.environ, "HOME": str(base / "home"), "XDG_CACHE_HOME": str(base / "cache"),
           "XDG_DATA_HOME": str(base / "data"), "HEALTHKB_KB": str(root)}
    done = subprocess.run(command("reindex"), capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def kb(built_corpus, isolated_env) -> Path:
    """A private copy of the built corpus where HEALTHKB_KB points."""
    shutil.copytree(built_corpus, isolated_env.kb, symlinks=True, dirs_exist_ok=True)
    return isolated_env.kb


# ---------------------------------------------------------------- two writers


@pytest.mark.parametrize("second", [["reindex", "--full"], ["reindex"]])
def test_two_reindexes_at_once_both_finish(kb, second):
    first = start("reindex", "--full", "--json", env={"HEALTHKB_LOCK_TIMEOUT": "60"})
    wait_until_locked_by(first, kb / STATE_DIR_NAME)
    other = start(*second, "--json", env={"HEALTHKB_LOCK_TIMEOUT": "60"})
    results = [finish(first), finish(other)]
    for result in results:
        assert result.code == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["added"] + summary["updated"] + summary["unchanged"] == CORPUS_SIZE
    assert_index_matches_files(kb)


def test_a_second_reindex_that_gives_up_names_the_holder(kb):
    first = start("reindex", "--full", env={"HEALTHKB_LOCK_TIMEOUT": "60"})
    wait_until_locked_by(first, kb / STATE_DIR_NAME)
    loser = run("reindex", "--full", env={"HEALTHKB_LOCK_TIMEOUT": "0"})
    winner = finish(first)
    assert winner.code == 0, winner.stderr
    assert loser.code == 3 and loser.stdout == ""
    [message, hint] = loser.stderr.splitlines()
    assert message.startswith("healthkb: the index is being updated by healthkb")
    assert f"pid {winner.pid} " in message and "gave up after 0 s" in message
    assert hint.startswith("hint: try again") and "HEALTHKB_LOCK_TIMEOUT" in hint
    assert_index_matches_files(kb)


@pytest.mark.parametrize("timeout", ["60", "0"])
def test_add_during_a_full_reindex(kb, tmp_path, timeout):
    sources = [new_article(tmp_path / "incoming", f"visitor-{n}", f"A {WORD} quokka visitor note number {n}.") for n in range(3)]
    first = start("reindex", "--full", env={"HEALTHKB_LOCK_TIMEOUT": "60"})
    wait_until_locked_by(first, kb / STATE_DIR_NAME)
    added = run("add", "--into", "incoming", *map(str, sources), env={"HEALTHKB_LOCK_TIMEOUT": timeout})
    rebuilt = finish(first)
    assert rebuilt.code == 0, rebuilt.stderr
    for source in sources:  # copied either way, and whole
        assert (kb / "incoming" / source.name).read_bytes() == source.read_bytes()
    if timeout == "60":
        assert added.code == 0, added.stderr
        assert added.stdout.startswith("Added 3 articles")
    else:
        # The files are in the KB; only indexing them had to wait.  Say both.
        assert added.code == 3, added.stderr
        assert "copied 3 articles into the knowledge base, but did not index them" in added.stderr
        assert f"pid {rebuilt.pid} " in added.stderr
        assert "next healthkb command indexes them" in added.stderr
    # Either way the next reading command finds them, each once.
    found = run("search", "quokka", "--json")
    assert found.code == 0 and json.loads(found.stdout)["total"] == 3
    assert_index_matches_files(kb)


def test_two_adds_at_once_lose_nothing(kb, tmp_path):
    batches = [
        [new_article(tmp_path / f"from-{side}", f"{side}-{n}", f"{side.title()} {WORD} wombat note {n}.") for n in range(4)]
        for side in ("left", "right")
    ]
    procs = [start("add", "--into", f"from-{side}", *map(str, batch), env={"HEALTHKB_LOCK_TIMEOUT": "60"})
             for side, batch in zip(("left", "right"), batches)]
    for result in map(finish, procs):
        assert result.code == 0, result.stderr
    assert_index_matches_files(kb)
    assert json.loads(run("search", "wombat", "--json").stdout)["total"] == 8


# ---------------------------------------------------------------- readers during a rebuild


def _search_total(query: str) -> tuple[int, str]:
    done = run("search", query, "--json", "--limit", "3")
    assert done.code in (0, 1), done.stderr
    total = json.loads(done.stdout)["total"] if done.code == 0 else 0
    return total, done.stderr


def test_search_in_a_loop_during_a_full_reindex_sees_old_or_new(kb):
    old, _ = _search_total(WORD)
    assert old > 0
    # New articles on disk: until they are indexed a search counts `old`
    # hits, after that `new`.  Anything else would be a half-built index.
    for n in range(5):
        new_article(kb / "late", f"late-{n}", f"Late {WORD} arrival number {n}.")
    new = old + 5
    seen: list[int] = []
    for _round in range(2):
        writer = start("reindex", "--full")
        while writer.poll() is None:
            total, stderr = _search_total(WORD)
            seen.append(total)
            for line in stderr.splitlines():
                if line.startswith("healthkb:"):
                    assert "showing the last complete index" in line, stderr
        assert finish(writer).code == 0
    assert set(seen) <= {old, new}, seen
    assert len(seen) >= 3, "too few searches overlapped the rebuilds to show anything"
    assert _search_total(WORD)[0] == new
    assert_index_matches_files(kb)


def test_a_reader_that_loses_the_race_with_a_generation_switch(make_kb, monkeypatch):
    """Between reading the current generation from the catalog and opening its
    shards, a reader can see a full rebuild switch generations and delete the
    old one.  That is not damage: the reader opens the new generation,
    without a notice and without rebuilding anything itself."""
    import whoosh.index

    root = make_kb({f"note-{n}.txt": f"Note {n} on {WORD} care. |\n" for n in range(6)})
    kb_ = KB(root.resolve(), "env")
    reindex(kb_)
    real_open = whoosh.index.open_dir
    calls = {"n": 0}

    def open_during_a_rebuild(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            reindex(kb_, full=True)  # another process, right now
        return real_open(*args, **kwargs)

    with open_index(kb_) as ix:
        generation = int(ix.catalog.get_meta("generation"))
        monkeypatch.setattr(whoosh.index, "open_dir", open_during_a_rebuild)
        result = ix.search(WORD)
        assert result.total == 6
        assert ix.take_notices() == []
        assert ix.report is None  # the reader rebuilt nothing itself
        assert int(ix.catalog.get_meta("generation")) == generation + 1
    assert calls["n"] >= 2


def test_a_reader_opened_before_a_full_rebuild_reads_the_new_generation(make_kb):
    """Whoosh opens some files of a segment only when first read (stored
    fields).  A searcher opened before another process's full rebuild
    deleted its generation must read the new generation, not call the
    index damaged and rebuild it a second time."""
    root = make_kb({f"note-{n}.txt": f"Note {n} on {WORD} care. |\n" for n in range(6)})
    kb_ = KB(root.resolve(), "env")
    reindex(kb_)
    with open_index(kb_) as ix:
        ix.searcher()  # opened, nothing read yet
        generation = int(ix.catalog.get_meta("generation"))
        reindex(kb_, full=True)  # another process, meanwhile
        assert not (root / STATE_DIR_NAME / f"whoosh-{generation}").exists()
        result = ix.search(WORD)
        assert result.total == 6 and len(result.hits) == 6
        assert ix.take_notices() == [] and ix.report is None
        assert int(ix.catalog.get_meta("generation")) == generation + 1

