"""Bring the index up to date with the KB: the entry point, and full builds
(incremental updates are in incremental.py).

SPEC §3: a file is re-read only when its size or mtime changed and re-indexed
only when its content hash changed; removed files leave the index; links are
recomputed for every article a change can touch.  All writing happens under
the write lock; Whoosh is committed before the catalog, so a writer killed in
between leaves a catalog that still lists the old fingerprints, and the next
run simply redoes the work (re-indexing by unique id is idempotent).

A full build reads each file once, in this process, and streams its text to
the shard workers while it goes on reading (workers.py); the catalog gets the
fingerprint of exactly the bytes that were indexed.  A file whose size or
mtime moved while it was read is stored *dirty* (no mtime or hash can match),
so the next update re-reads and re-indexes it whatever its bytes are by then.
Titles and links are worked out from the catalog (buildlinks.py) while the
workers index the documents still queued for them.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from dataclasses import dataclass

from healthkb.corpus import Skipped, load_article, scan_kb
from healthkb.files import UndecodableError, current_body
from healthkb.freshness import tree_state
from healthkb.errors import IndexingStoppedError, IndexUnavailableError, disk_full, storage_failure
from healthkb.index.buildlinks import settle_titles, store_links, store_names
from healthkb.index.catalog import Catalog
from healthkb.index.folderscan import FOLDER_SCAN_KEY, store_folder_digests, update_changed_folders, update_touched_folders
from healthkb.index.incremental import incremental_update
from healthkb.index.lock import WriteLock
from healthkb.index.records import (
    Progress,
    UpdateReport,
    article_values,
    no_progress,
    shard_of,
)
from healthkb.index.store import (
    TREE_STATE_KEY,
    IndexDamaged,
    IndexPaths,
    catalog_problem,
    discard_catalog,
    ensure_state_dir,
    remove_partial_writes,
    remove_stale_generations,
    remove_stale_temporaries,
)
from healthkb.index.workers import (
    BATCH_SIZE,
    MIN_SEGMENT_MB,
    SegmentedWriter,
    ShardResult,
    ShardWorker,
    segment_budget_mb,
)
from healthkb.kb import remove_stale_copies

__all__ = ["Progress", "UpdateReport", "update_index", "PARALLEL_MIN_DOCS"]

PARALLEL_MIN_DOCS = 800  # below this, starting worker processes costs more than it saves
MAX_SHARDS = 4


def update_index(
    paths: IndexPaths,
    *,
    full: bool = False,
    progress: Progress | None = None,
    timeout: float | None = None,
    state_before: str | None = None,
    folders_before: dict[str, bytes] | None = None,
    touched: list[str] | None = None,
    listings_before: dict[str, tuple[bytes, bytes]] | None = None,
) -> UpdateReport:
    """Update (or with ``full``, rebuild) the index of ``paths.kb`` under the write lock.

    ``state_before`` is a :func:`tree_state` digest the caller took just now
    (a reading command's freshness check): the update records it instead of
    walking the tree a second time.  It was taken before this update's scan,
    which is all the digest promises (a change after it forces another update).
    ``folders_before`` holds the folder digests of the same walk, and
    ``listings_before`` its folder listings (the stats it took).

    ``touched`` (relative paths of files the caller just wrote: ``add``,
    ``edit``) lets the update rescan their folders alone, without walking the
    KB; it then leaves the recorded digests as they were, so the next reading
    command still checks the whole KB."""
    started = time.perf_counter()
    progress = progress or no_progress
    ensure_state_dir(paths)
    report = UpdateReport(notices=list(paths.notices))
    try:
        with WriteLock(paths.state, timeout):
            try:
                _update_locked(paths, full, report, progress, _Known(state_before, folders_before, touched, listings_before))
            except BaseException as exc:
                failure = storage_failure(exc, paths.state)
                if failure is None and isinstance(exc, RuntimeError) and disk_full(paths.state):
                    failure = storage_failure(OSError(errno.ENOSPC, "full"), paths.state)  # a worker's report
                if failure is None:
                    raise
                # A full disk or lost permissions: the last committed index
                # stays as it was; what this run half-wrote must not hold the space.
                remove_partial_writes(paths)
                raise failure from exc
    except OSError as exc:  # taking the lock itself failed
        failure = storage_failure(exc, paths.state / "write.lock")
        if failure is None:
            raise
        raise failure from exc
    report.seconds = time.perf_counter() - started
    return report


def _update_locked(paths: IndexPaths, full: bool, report: UpdateReport, progress: Progress, known: _Known) -> None:
    remove_stale_temporaries(paths)
    problem = catalog_problem(paths)
    if problem:
        report.notices.append(f"{problem}; rebuilding it")
        discard_catalog(paths)
        full = True
    try:
        _update_or_build(paths, full, report, progress, known)
    except (sqlite3.DatabaseError, IndexDamaged) as exc:
        if storage_failure(exc, paths.state) is not None:
            raise  # not damage: rebuilding would throw away a working index
        # Damage found on the way (a corrupt page, an unreadable shard):
        # the index is a cache, so start it again from the articles.
        if not any("damaged" in notice for notice in report.notices):
            report.notices.append("the index was damaged; rebuilding it")
        discard_catalog(paths)
        try:
            _update_or_build(paths, True, report, progress, known)
        except sqlite3.DatabaseError as exc:
            raise IndexUnavailableError(f"cannot build the index in {paths.state}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Known:
    """What the caller of an update already knows (see :func:`update_index`)."""

    state: str | None = None
    folders: dict[str, bytes] | None = None
    touched: list[str] | None = None
    listings: dict[str, tuple[bytes, bytes]] | None = None


def _update_or_build(paths: IndexPaths, full: bool, report: UpdateReport, progress: Progress, known: _Known) -> None:
    catalog = Catalog(paths.catalog, writer=True)
    try:
        catalog.create()
        generation = catalog.get_meta("generation")
        if generation is None:
            full = True
        # Generations other than the current one are leftovers of killed
        # builds (or old ones a reader may have held): no writer needs them.
        remove_stale_generations(paths, keep=int(generation) if generation is not None else None)
        # Taken before the scan: a file that changes after this moment leaves
        # a digest that no longer matches, so the next read updates again.
        # The folder digests let an update rescan only the folders that
        # changed; only a scan of the whole KB needs every file's stat.
        by_folder = not full and catalog.get_meta(FOLDER_SCAN_KEY) == "1"
        if by_folder and known.touched and update_touched_folders(paths, catalog, known.touched, report, progress):
            return
        stats: dict[str, tuple[int, int]] | None = None if by_folder else {}
        if by_folder and known.state and known.folders:
            state, digests, listings = known.state, known.folders, known.listings  # that walk was this update's
        else:
            digests, listings = {}, {}
            state = tree_state(paths.kb.root, stats, digests, listings if by_folder else None)
            # A caller's earlier digest: all it promises still holds.
            state = known.state or state
        if not (by_folder and update_changed_folders(paths, catalog, digests, report, progress, listings)):
            scan = scan_kb(paths.kb.root, stats=stats)
            del stats
            # A killed `add` leaves its temporary copy: remove it, or report it.
            scan.skipped.extend(Skipped(rel, reason) for rel, reason in remove_stale_copies(scan.temporaries))
            if full:
                _full_build(paths, catalog, scan, report, progress)
            else:
                incremental_update(paths, catalog, scan, report, progress)
            store_folder_digests(catalog, paths.kb.root, digests, scan, report.skipped)
        catalog.set_meta(TREE_STATE_KEY, state)
    finally:
        catalog.close()


# -- full build -------------------------------------------------------------


def _full_build(paths: IndexPaths, catalog: Catalog, scan, report: UpdateReport, progress: Progress) -> None:
    report.full = True
    old = catalog.get_meta("generation")
    old_generation = int(old) if old is not None else None
    generation = (old_generation or 0) + 1
    parallel = len(scan.files) >= PARALLEL_MIN_DOCS and (os.cpu_count() or 1) > 1
    shards = min(os.cpu_count() or 1, MAX_SHARDS) if parallel else 1
    segment_mb = segment_budget_mb(shards)
    try:
        _build_generation(paths, catalog, scan, report, progress, generation, shards, segment_mb)
    except IndexingStoppedError:
        # Most likely the out-of-memory killer: try once more with a quarter
        # of the memory per worker (the transaction was rolled back).
        remove_stale_generations(paths, keep=old_generation)
        report.notices.append("an indexing process was stopped (out of memory?); retrying with smaller memory pools")
        _build_generation(paths, catalog, scan, report, progress, generation, shards, max(MIN_SEGMENT_MB, segment_mb // 4))
    remove_stale_generations(paths, keep=generation)


class _InlineShard:
    """The single-shard build, in this process, behind the same calls as a ShardWorker."""

    def __init__(self, shard_dir: str, segment_mb: int) -> None:
        self.shard = SegmentedWriter(shard_dir, segment_mb)

    def send(self, kind: str, docs: list) -> None:
        (self.shard.add if kind == "add" else self.shard.replace)(docs)

    def close_input(self) -> None:
        self.shard.commit()

    def finish(self, on_progress) -> ShardResult:
        on_progress(self.shard.indexed)
        return ShardResult(self.shard.indexed, self.shard.words, self.shard.segments)

    def kill(self) -> None:
        self.shard.cancel()


def _start_shards(paths: IndexPaths, generation: int, shards: int, segment_mb: int) -> list:
    if shards == 1:
        return [_InlineShard(str(paths.shard_dir(generation, 0)), segment_mb)]
    workers = []
    try:
        for k in range(shards):
            workers.append(ShardWorker(str(paths.shard_dir(generation, k)), segment_mb))
    except BaseException:
        for worker in workers:
            worker.kill()
        raise
    return workers


def _build_generation(paths, catalog, scan, report, progress, generation, shards, segment_mb) -> None:
    """Read every file once and stream its text to the shard that indexes it,
    filling the catalog in the same pass; links are resolved after the
    workers are done, so they never compete with them for a core."""
    # Start the workers first: their interpreters start up while we read.
    sinks = _start_shards(paths, generation, shards, segment_mb)
    try:
        _stream_and_store(paths, catalog, scan, report, progress, generation, sinks)
    finally:
        for sink in sinks:
            sink.kill()


def _stream_and_store(paths, catalog, scan, report, progress, generation, sinks) -> None:
    from healthkb.index.schema import HealthTokenizer

    shards = len(sinks)
    skipped = list(scan.skipped)
    pending: list[list] = [[] for _ in range(shards)]
    total = len(scan.files)
    with catalog.transaction():
        for table in ("articles", "links", "words", "skipped", "folders"):
            catalog.db.execute(f"DELETE FROM {table}")
        for done, file in enumerate(scan.files, 1):
            try:
                article, decoded = load_article(file)
                settled = _unchanged_since_scan(file)
            except UndecodableError as exc:
                skipped.append(Skipped(file.relpath, str(exc)))
                continue
            except OSError as exc:
                skipped.append(Skipped(file.relpath, f"unreadable ({exc.strerror})"))
                continue
            shard = shard_of(article.id, shards)
            values = article_values(article, decoded, file.size, file.mtime_ns, shard)
            if not settled:
                values.update(DIRTY)  # changed while we read it: the next update reads it again
            catalog.upsert_article(values)
            batch = pending[shard]
            batch.append((article.id, article.title, article.body))
            if len(batch) >= BATCH_SIZE:
                sinks[shard].send("add", batch)
                pending[shard] = []
            if done % 500 == 0:
                progress("reading", done, total)
        for shard, batch in enumerate(pending):
            if batch:
                sinks[shard].send("add", batch)
        progress("reading", total, total)

        # Titles and links are worked out from the rows just written
        # (buildlinks.py), so nothing per article stays in memory here.
        store_names(catalog)
        # Documents went out with the article's own title; re-index the few
        # whose display title (inferred from neighbours' nav lines) indexes
        # differently.  Compared as index terms, so "Sleep apnea" vs "Sleep
        # Apnea" costs nothing.
        tokenizer = HealthTokenizer()
        retitled = settle_titles(catalog, lambda base, shown: tokenizer.terms(base) != tokenizer.terms(shown))
        dirty = _send_retitled(paths, catalog, sinks, retitled)
        for sink in sinks:
            sink.close_input()
        # Resolve and store the links while the workers index what is still
        # queued for them (they lag the reading by tens of seconds at 100,000
        # articles): the link work overlaps theirs instead of adding its own
        # stretch of one busy core after them.
        store_links(catalog, lambda done: progress("linking", done, total))

        indexed = 0

        def advance(count: int) -> None:
            nonlocal indexed
            indexed += count
            progress("indexing", min(indexed, total), total)

        for sink in sinks:
            # Each shard's word counts go straight to the catalog (df adds
            # up there), so no merged vocabulary is ever held here.
            catalog.add_words(sink.finish(advance).words)
        if dirty:
            catalog.db.executemany("UPDATE articles SET mtime_ns=-1, sha256='' WHERE id=?", ((i,) for i in dirty))
        catalog.replace_folders(scan.folders)
        catalog.replace_skipped((s.path, s.reason) for s in skipped)
        catalog.set_meta("generation", str(generation))
        catalog.set_meta("shards", str(shards))
        catalog.set_meta("updated_at", str(time.time()))
    report.added = [row[0] for row in catalog.db.execute("SELECT id FROM articles ORDER BY id")]
    report.skipped = skipped


# Catalog values that make the next update re-read and re-index an article,
# whatever its bytes are by then: no stat matches mtime -1, no hash matches "".
DIRTY = {"mtime_ns": -1, "sha256": ""}


def _unchanged_since_scan(file) -> bool:
    """Whether the file still has the size and mtime the scan saw (so the
    bytes just read are the ones those fingerprints describe)."""
    try:
        st = os.stat(file.abspath)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (file.size, file.mtime_ns)


def _send_retitled(paths, catalog, sinks, retitled) -> list[str]:
    """Send re-titled documents again (their text read back, rare); ids whose
    file changed meanwhile are returned to be marked dirty instead."""
    dirty: list[str] = []
    per_shard: dict[int, list] = {}
    for article_id, title in retitled:
        row = catalog.file_of(article_id)
        body = current_body(os.path.join(paths.kb.root, row[0]), row[1]) if row[1] else None
        if body is None:
            dirty.append(article_id)
            continue
        per_shard.setdefault(row[2], []).append((article_id, title, body))
    for shard, docs in per_shard.items():
        sinks[shard].send("replace", docs)
    return dirty
