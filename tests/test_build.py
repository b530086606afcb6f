"""The full build pipeline (issue 15) and a build that cannot forget (issue 13).

Changes made *while* a build reads the files are injected at exact points by
wrapping the build's ``load_article``: the moment a concurrent editor, a sync
tool or ``git checkout`` would hit.  After any sequence of builds, edits,
moves and interruptions, one update must leave search documents = catalog
rows = files, each document holding its file's current text.

Also here: a worker killed like the out-of-memory killer does (exit 3 with a
plain message, one retry with smaller pools), partial generations removed by
the next writer, a build on a machine short of memory, the merge policy that
keeps an updated index near the size of a fresh one, and the compact posting
codec (same answers as Whoosh's own).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthkb.files import STATE_DIR_NAME
from healthkb.errors import IndexingStoppedError
from healthkb.index import update, workers
from healthkb.index.api import open_index, reindex
from healthkb.index.store import dir_size, index_paths
from healthkb.kb import KB

from clihelp import article, run_cli

MULTI_CPU = (os.cpu_count() or 1) > 1


def kb_of(root: Path) -> KB:
    return KB(root.resolve(), "option")


def body_of(number: int, version: int) -> str:
    # Each article carries a marker word naming its current version, so a
    # search can tell which bytes the index holds.
    return f"Article number {number} about sleep and joints. Marker m{number}v{version} here."


def write_article(root: Path, number: int, version: int) -> Path:
    folder = root / f"topic-{number % 3}"
    if (root / f".away-{number % 3}").exists():
        folder = root / f".away-{number % 3}"  # its folder was moved away: edit it there
    path = folder / f"note-{number}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article(body_of(number, version), heading=f"Note {number}"), encoding="utf-8")
    stat = path.stat()
    # Same size for every version: only the mtime tells an edit apart, so
    # make each write move it (coarse clocks would otherwise hide edits).
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + version * 1_000_000_000 + 1))
    return path


def files_on_disk(root: Path) -> dict[str, str]:
    """id → text of every article file."""
    return {
        p.relative_to(root).with_suffix("").as_posix(): p.read_text(encoding="utf-8")
        for p in root.rglob("*.txt")
        if STATE_DIR_NAME not in p.parts
    }


def assert_index_is_current(root: Path) -> None:
    """Whoosh documents == catalog rows == files, and each document is
    found by the marker its file holds now."""
    files = files_on_disk(root)
    with open_index(kb_of(root), refresh=False) as ix:
        searcher = ix.searcher()
        reader = searcher.searcher.reader()
        docs = sorted(fields["id"] for _n, fields in reader.iter_docs())
        assert docs == sorted(files), (docs, sorted(files))
        assert sorted(i for i, _t in ix.catalog.id_titles()) == sorted(files)
        body_terms = {term.decode() if isinstance(term, bytes) else term for term in reader.lexicon("body")}
        for article_id, text in files.items():
            marker = text.split("Marker ")[1].split()[0]
            assert marker in body_terms, (article_id, marker)
            hits = [reader.stored_fields(n)["id"] for n in reader.postings("body", marker).all_ids()]
            assert hits == [article_id], (marker, hits)


class DuringRead:
    """Wraps the build's load_article to run ``actions[n]`` just before the
    n-th file is read (0-based)."""

    def __init__(self, monkeypatch, actions: dict[int, callable]) -> None:
        self.calls, self.actions = 0, actions
        self.original = update.load_article
        monkeypatch.setattr(update, "load_article", self)

    def __call__(self, file):
        action = self.actions.get(self.calls)
        self.calls += 1
        if action:
            action()
        return self.original(file)


@pytest.fixture
def kb(isolated_env) -> Path:
    root = isolated_env.kb
    for number in range(12):
        write_article(root, number, 0)
    reindex(kb_of(root))
    return root


@pytest.fixture(params=["inline", "workers"])
def shards(request, monkeypatch):
    if request.param == "workers":
        if not MULTI_CPU:
            pytest.skip("one CPU: the build never starts shard workers")
        monkeypatch.setattr(update, "PARALLEL_MIN_DOCS", 1)
    return request.param


# ---------------------------------------------------------------- the two repros of issue 13


def test_a_folder_moved_away_during_a_full_build_and_back_is_indexed_again(kb, shards, monkeypatch):
    away = kb / "topic-1.away"
    DuringRead(monkeypatch, {2: lambda: (kb / "topic-1").rename(away)})
    report = reindex(kb_of(kb), full=True)
    assert any(s.path.startswith("topic-1/") for s in report.skipped) or len(report.added) < 12
    away.rename(kb / "topic-1")
    monkeypatch.undo()
    again = reindex(kb_of(kb))
    assert sorted(again.added) == sorted(i for i in files_on_disk(kb) if i.startswith("topic-1/"))
    assert reindex(kb_of(kb)).changed is False
    assert_index_is_current(kb)


def test_files_edited_during_a_full_build_then_restored_are_read_again(kb, shards, monkeypatch):
    originals = {n: (kb / f"topic-{n % 3}" / f"note-{n}.txt").read_bytes() for n in (0, 1, 10, 11)}
    # note-0, -1 sort first: edited after they were read; note-10, -11 sort
    # between them: edited after the scan but before they are read.
    DuringRead(monkeypatch, {5: lambda: [write_article(kb, n, 1) for n in (0, 1, 10, 11)]})
    reindex(kb_of(kb), full=True)
    monkeypatch.undo()
    for number, data in originals.items():  # "undo, then save": the old bytes, a new mtime
        path = kb / f"topic-{number % 3}" / f"note-{number}.txt"
        path.write_bytes(data)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 9_000_000_000))
    reindex(kb_of(kb))
    assert_index_is_current(kb)
    assert reindex(kb_of(kb)).changed is False


def test_a_file_changed_while_read_is_marked_to_be_read_again(kb, monkeypatch):
    path = kb / "topic-2" / "note-5.txt"
    DuringRead(monkeypatch, {4: lambda: write_article(kb, 5, 1)})  # after the scan, before its read
    reindex(kb_of(kb), full=True)
    with open_index(kb_of(kb), refresh=False) as ix:
        row = ix.catalog.db.execute("SELECT mtime_ns, sha256 FROM articles WHERE id='topic-2/note-5'").fetchone()
    assert row == (-1, "")
    write_article(kb, 5, 0)  # back to the bytes the catalog would have recorded
    assert "topic-2/note-5" in reindex(kb_of(kb)).updated
    assert "m5v0" in path.read_text(encoding="utf-8")
    assert_index_is_current(kb)


# ---------------------------------------------------------------- random operation sequences

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.integers(0, 11)),
        st.tuples(st.just("remove"), st.integers(0, 11)),
        st.tuples(st.just("add"), st.integers(12, 15)),
        st.tuples(st.just("move"), st.integers(0, 2)),
        st.tuples(st.sampled_from(["build", "full"]), st.just(0)),
        st.tuples(st.sampled_from(["edit-during", "move-during", "interrupt"]), st.integers(0, 11)),
    ),
    min_size=1,
    max_size=8,
)


def _apply(root: Path, operation: tuple[str, int], versions: dict[int, int], monkeypatch) -> None:
    kind, number = operation

    def edit(n: int) -> None:
        versions[n] = versions.get(n, 0) + 1
        write_article(root, n, versions[n])

    def move(folder: int) -> None:
        here, away = root / f"topic-{folder}", root / f".away-{folder}"
        if here.exists():
            here.rename(away)
        elif away.exists():
            away.rename(here)

    if kind in ("edit", "add"):
        edit(number)
    elif kind == "remove":
        for path in root.rglob(f"note-{number}.txt"):
            path.unlink()
    elif kind == "move":
        move(number)
    elif kind in ("build", "full"):
        reindex(kb_of(root), full=kind == "full")
    else:
        with monkeypatch.context() as patch:
            if kind == "interrupt":
                def stop() -> None:
                    raise KeyboardInterrupt
                DuringRead(patch, {number % 6: stop})
            elif kind == "edit-during":
                DuringRead(patch, {number % 6: lambda: edit(number)})
            else:
                DuringRead(patch, {number % 6: lambda: move(number % 3)})
            try:
                reindex(kb_of(root), full=number % 2 == 0)
            except KeyboardInterrupt:
                pass


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_after_any_sequence_one_reindex_makes_index_catalog_and_files_agree(kb, operations, monkeypatch):
    root = kb
    versions: dict[int, int] = {}
    try:
        for operation in operations:
            _apply(root, operation, versions, monkeypatch)
        for folder in range(3):  # whatever was moved away comes back
            away = root / f".away-{folder}"
            if away.exists():
                away.rename(root / f"topic-{folder}")
        reindex(kb_of(root))
        assert_index_is_current(root)
    finally:
        # The next example starts from the fixture's KB again.
        for path in list(root.iterdir()):
            if path.name != STATE_DIR_NAME:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for number in range(12):
            write_article(root, number, 0)
        reindex(kb_of(root))


# ---------------------------------------------------------------- killed workers, leftovers, memory


@pytest.mark.skipif(not MULTI_CPU, reason="one CPU: the build never starts shard workers")
def test_a_killed_worker_is_retried_once_with_smaller_pools(kb, monkeypatch):
    monkeypatch.setattr(update, "PARALLEL_MIN_DOCS", 1)
    budgets = []
    original_init = workers.ShardWorker.__init__

    def start(self, shard_dir, segment_mb):
        budgets.append(segment_mb)
        original_init(self, shard_dir, segment_mb)
        if len(budgets) == 1:
            os.kill(self.process.pid, signal.SIGKILL)  # what the OOM killer does

    monkeypatch.setattr(workers.ShardWorker, "__init__", start)
    report = reindex(kb_of(kb), full=True)
    assert any("out of memory" in notice for notice in report.notices), report.notices
    assert budgets[-1] < budgets[0]
    assert threading.active_count() == 1  # the killed worker's pipe threads ended too
    assert_index_is_current(kb)


@pytest.mark.skipif(not MULTI_CPU, reason="one CPU: the build never starts shard workers")
def test_a_worker_killed_twice_ends_with_exit_3_and_a_plain_message(kb, monkeypatch):
    monkeypatch.setattr(update, "PARALLEL_MIN_DOCS", 1)
    original_init = workers.ShardWorker.__init__

    def start(self, *args):
        original_init(self, *args)
        os.kill(self.process.pid, signal.SIGKILL)

    monkeypatch.setattr(workers.ShardWorker, "__init__", start)
    with pytest.raises(IndexingStoppedError):
        reindex(kb_of(kb), full=True)
    result = run_cli("reindex", "--full")
    assert result.code == 3
    assert "an indexing process was stopped — out of memory?" in result.stderr
    monkeypatch.setattr(workers.ShardWorker, "__init__", original_init)  # (undo() would drop the KB env too)
    # The previous index still answers, and its leftovers go with the next writer.
    assert run_cli("search", "marker", "--json").code == 0
    reindex(kb_of(kb))
    paths = index_paths(kb_of(kb))
    assert [p.name for p in paths.state.glob("whoosh-*")] == [f"whoosh-{_generation(kb)}"]
    assert_index_is_current(kb)


def _generation(root: Path) -> int:
    with open_index(kb_of(root), refresh=False) as ix:
        return int(ix.catalog.get_meta("generation"))


def test_an_incremental_writer_removes_partial_generations(kb):
    paths = index_paths(kb_of(kb))
    current = _generation(kb)
    partial = paths.generation_dir(current + 1) / "shard-0"
    partial.mkdir(parents=True)
    (partial / "MAIN_x.pst").write_bytes(b"\0" * 1000)  # what a killed build leaves
    write_article(kb, 3, 1)
    assert reindex(kb_of(kb)).updated == ["topic-0/note-3"]
    assert not paths.generation_dir(current + 1).exists()
    assert paths.generation_dir(current).exists()
    assert_index_is_current(kb)


def test_the_pool_budget_follows_available_memory(monkeypatch):
    monkeypatch.setenv(workers.MEMAVAILABLE_ENV, str(24 * 1024 * 1024))  # 24 GB free
    assert workers.segment_budget_mb(2) == workers.DEFAULT_SEGMENT_MB
    monkeypatch.setenv(workers.MEMAVAILABLE_ENV, str(400 * 1024))  # 98% of 24 GB in use
    assert workers.segment_budget_mb(2) < workers.DEFAULT_SEGMENT_MB
    monkeypatch.setenv(workers.MEMAVAILABLE_ENV, "20000")  # 20 MB: the floor
    assert workers.segment_budget_mb(2) == workers.MIN_SEGMENT_MB


def test_a_build_short_of_memory_completes_in_small_segments(isolated_env, monkeypatch):
    root = isolated_env.kb
    for number in range(60):
        words = " ".join(f"w{number}x{n}" for n in range(400))  # 24,000 distinct terms in all
        path = write_article(root, number, 0)
        path.write_text(article(body_of(number, 0) + " " + words, heading=f"Note {number}"), encoding="utf-8")
    monkeypatch.setenv(workers.MEMAVAILABLE_ENV, "2000")  # 2 MB left
    monkeypatch.setattr(workers, "MIN_SEGMENT_MB", 1)  # the floor, scaled to this small KB
    budgets = []
    original_init = workers.SegmentedWriter.__init__

    def spy(self, index_dir, segment_mb):
        budgets.append(segment_mb)
        original_init(self, index_dir, segment_mb)

    monkeypatch.setattr(workers.SegmentedWriter, "__init__", spy)
    report = reindex(kb_of(root), full=True)
    assert len(report.added) == 60
    assert budgets == [1]
    paths = index_paths(kb_of(root))
    # ~3.5 MB of packed postings: the 1 MB budget cut the shard into segments.
    assert len(list(paths.shard_dir(_generation(root), 0).glob("*.pst"))) >= 3
    assert_index_is_current(root)


# ---------------------------------------------------------------- size after many updates


def test_twenty_five_updates_keep_the_index_near_a_fresh_build(isolated_env):
    root = isolated_env.kb
    filler = " ".join(f"filler{n}" for n in range(150))
    for number in range(200):
        write_article(root, number, 0)
    reindex(kb_of(root))
    paths = index_paths(kb_of(root))
    versions = dict.fromkeys(range(200), 0)
    for round_ in range(25):
        for number in ((round_ * 8 + k) % 200 for k in range(20)):  # 10% of the articles
            versions[number] += 1
            path = write_article(root, number, versions[number])
            path.write_text(path.read_text(encoding="utf-8").replace(" |", f" {filler} |"), encoding="utf-8")
        reindex(kb_of(root))
    updated = dir_size(paths.generation_dir(_generation(root)))
    reindex(kb_of(root), full=True)
    fresh = dir_size(paths.generation_dir(_generation(root)))
    assert updated <= 1.3 * fresh, (updated, fresh)


# ---------------------------------------------------------------- the compact codec


def test_compact_posting_blocks_answer_like_whoosh_s_own(tmp_path):
    from whoosh import index as whoosh_index
    from whoosh.query import Phrase, Term

    from healthkb.index.codec import TermPool
    from healthkb.index.codec import writer as compact_writer
    from healthkb.index.schema import build_schema

    def compact(ix):
        writer = compact_writer(ix, compound=False)
        writer.pool = TermPool()  # as the build does
        return writer

    docs = [
        (f"d{n}", f"Title {n}", " ".join(["sleep apnea"] * (n % 5 + 1) + [f"rare{n}", "joint pain" * (n % 3)]))
        for n in range(400)
    ]
    results = []
    for name, open_writer in (("stock", lambda ix: ix.writer(compound=False)), ("compact", compact)):
        folder = tmp_path / name
        folder.mkdir()
        ix = whoosh_index.create_in(str(folder), build_schema())
        writer = open_writer(ix)
        for doc_id, title, body in docs:
            writer.add_document(id=doc_id, title=title, body=body)
        writer.commit()
        with ix.searcher() as searcher:
            answers = []
            for query in (Term("body", "sleep"), Term("body", "rare7"), Phrase("body", ["sleep", "apnea"]),
                          Phrase("body", ["joint", "pain"])):
                answers.append([(hit["id"], round(hit.score, 6)) for hit in searcher.search(query, limit=None)])
        results.append(answers)
        size = sum(p.stat().st_size for p in folder.glob("*.pst"))
        results[-1].append(size)
    stock, compact = results
    assert stock[:-1] == compact[:-1]
    assert compact[-1] < stock[-1]
