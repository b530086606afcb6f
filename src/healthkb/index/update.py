"""Bring the index up to date with the KB: the entry point, and full builds
(incremental updates are in incremental.py).

SPEC §3: a file is re-read only when its size or mtime changed and re-indexed
only when its content hash changed; removed files leave the index; links are
recomputed for every article a change can touch.  All writing happens under
the write lock; Whoosh is committed before the catalog, so a writer killed in
between leaves a catalog that still lists the old fingerprints, and the next
run simply redoes the work (re-indexing by unique id is idempotent).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections import Counter

from healthkb.corpus import Skipped, UndecodableError, load_article, scan_kb, tree_state
from healthkb.errors import IndexUnavailableError, disk_full, storage_failure
from healthkb.index.catalog import Catalog
from healthkb.index.incremental import incremental_update
from healthkb.index.lock import WriteLock
from healthkb.index.records import (
    Progress,
    UpdateReport,
    article_values,
    no_progress,
    shard_of,
    store_all_links,
    store_titles,
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
from healthkb.index.workers import BATCH_SIZE, DocTask, ShardWorker, index_documents
from healthkb.kb import remove_stale_copies
from healthkb.links import ArticleKeys, LinkResolver

__all__ = ["Progress", "UpdateReport", "update_index", "PARALLEL_MIN_DOCS"]

PARALLEL_MIN_DOCS = 800  # below this, starting worker processes costs more than it saves
MAX_SHARDS = 4


def update_index(
    paths: IndexPaths,
    *,
    full: bool = False,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> UpdateReport:
    """Update (or with ``full``, rebuild) the index of ``paths.kb`` under the write lock."""
    started = time.perf_counter()
    progress = progress or no_progress
    ensure_state_dir(paths)
    report = UpdateReport(notices=list(paths.notices))
    try:
        with WriteLock(paths.state, timeout):
            try:
                _update_locked(paths, full, report, progress)
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


def _update_locked(paths: IndexPaths, full: bool, report: UpdateReport, progress: Progress) -> None:
    remove_stale_temporaries(paths)
    problem = catalog_problem(paths)
    if problem:
        report.notices.append(f"{problem}; rebuilding it")
        discard_catalog(paths)
        full = True
    try:
        _update_or_build(paths, full, report, progress)
    except (sqlite3.DatabaseError, IndexDamaged) as exc:
        if storage_failure(exc, paths.state) is not None:
            raise  # not damage: rebuilding would throw away a working index
        # Damage found on the way (a corrupt page, an unreadable shard):
        # the index is a cache, so start it again from the articles.
        if not any("damaged" in notice for notice in report.notices):
            report.notices.append("the index was damaged; rebuilding it")
        discard_catalog(paths)
        try:
            _update_or_build(paths, True, report, progress)
        except sqlite3.DatabaseError as exc:
            raise IndexUnavailableError(f"cannot build the index in {paths.state}: {exc}") from exc


def _update_or_build(paths: IndexPaths, full: bool, report: UpdateReport, progress: Progress) -> None:
    catalog = Catalog(paths.catalog, writer=True)
    try:
        catalog.create()
        if catalog.get_meta("generation") is None:
            full = True
        # Taken before the scan: a file that changes after this moment leaves
        # a digest that no longer matches, so the next read updates again.
        state = tree_state(paths.kb.root)
        scan = scan_kb(paths.kb.root)
        # A killed `add` leaves its temporary copy: remove it, or report it.
        scan.skipped.extend(Skipped(rel, reason) for rel, reason in remove_stale_copies(scan.temporaries))
        if full:
            _full_build(paths, catalog, scan, report, progress)
        else:
            incremental_update(paths, catalog, scan, report, progress)
        catalog.set_meta(TREE_STATE_KEY, state)
    finally:
        catalog.close()


# -- full build -------------------------------------------------------------


def _full_build(paths: IndexPaths, catalog: Catalog, scan, report: UpdateReport, progress: Progress) -> None:
    report.full = True
    old = catalog.get_meta("generation")
    old_generation = int(old) if old is not None else None
    remove_stale_generations(paths, keep=old_generation)  # leftovers of killed builds
    generation = (old_generation or 0) + 1
    parallel = len(scan.files) >= PARALLEL_MIN_DOCS and (os.cpu_count() or 1) > 1
    shards = min(os.cpu_count() or 1, MAX_SHARDS) if parallel else 1

    # Start the workers now: their interpreters start up while we read the files.
    workers = [ShardWorker(str(paths.shard_dir(generation, k))) for k in range(shards)] if shards > 1 else []
    try:
        _fill_catalog_and_index(paths, catalog, scan, report, progress, generation, shards, workers)
    finally:
        for worker in workers:
            worker.kill()
    remove_stale_generations(paths, keep=generation)


def _fill_catalog_and_index(paths, catalog, scan, report, progress, generation, shards, workers) -> None:
    skipped = list(scan.skipped)
    keys: list[ArticleKeys] = []
    docs: list[tuple[str, str, str]] = []  # id, abspath, sha256
    total = len(scan.files)
    with catalog.transaction():
        for table in ("articles", "links", "words", "skipped", "folders"):
            catalog.db.execute(f"DELETE FROM {table}")
        for done, file in enumerate(scan.files, 1):
            try:
                article, decoded = load_article(file)
            except UndecodableError as exc:
                skipped.append(Skipped(file.relpath, str(exc)))
                continue
            except OSError as exc:
                skipped.append(Skipped(file.relpath, f"unreadable ({exc.strerror})"))
                continue
            shard = shard_of(article.id, shards)
            catalog.upsert_article(article_values(article, decoded, file.size, file.mtime_ns, shard))
            keys.append(ArticleKeys.from_article(article))
            docs.append((article.id, file.abspath, decoded.sha256))
            if done % 500 == 0:
                progress("reading", done, total)
        progress("reading", total, total)
        resolver = LinkResolver(keys)
        del keys

        words: Counter = Counter()
        stale: list[str] = []
        tasks = [DocTask(i, p, sha, resolver.title(i)[0]) for i, p, sha in docs]
        del docs
        if shards > 1:
            stale = _build_shards_parallel(workers, tasks, catalog, resolver, words, progress)
        else:
            stale = _build_shard_inline(paths, generation, tasks, words, progress)
            store_all_links(catalog, resolver)
        store_titles(catalog, resolver.titles())
        if stale:
            catalog.db.executemany("UPDATE articles SET mtime_ns=-1 WHERE id=?", ((i,) for i in stale))
        catalog.add_words(words)
        catalog.replace_folders(scan.folders)
        catalog.replace_skipped((s.path, s.reason) for s in skipped)
        catalog.set_meta("generation", str(generation))
        catalog.set_meta("shards", str(shards))
        catalog.set_meta("updated_at", str(time.time()))
    report.added = [t.id for t in tasks]
    report.skipped = skipped


def _build_shard_inline(paths: IndexPaths, generation: int, tasks: list[DocTask], words: Counter, progress) -> list[str]:
    from whoosh import index as whoosh_index

    from healthkb.index.schema import build_schema

    shard_dir = paths.shard_dir(generation, 0)
    shard_dir.mkdir(parents=True, exist_ok=True)
    writer = whoosh_index.create_in(str(shard_dir), build_schema()).writer(limitmb=96, compound=False)
    stale: list[str] = []
    for start in range(0, len(tasks), BATCH_SIZE):
        _done, lost = index_documents(writer, tasks[start : start + BATCH_SIZE], words)
        stale.extend(lost)
        progress("indexing", min(start + BATCH_SIZE, len(tasks)), len(tasks))
    writer.commit(merge=False)
    return stale


def _build_shards_parallel(
    workers: list, tasks: list[DocTask], catalog: Catalog,
    resolver: LinkResolver, words: Counter, progress: Progress,
) -> list[str]:
    shards = len(workers)
    done = 0
    try:
        per_shard: list[list[DocTask]] = [[] for _ in range(shards)]
        for task in tasks:
            per_shard[shard_of(task.id, shards)].append(task)
        for worker, shard_tasks in zip(workers, per_shard):
            worker.feed([shard_tasks[i : i + BATCH_SIZE] for i in range(0, len(shard_tasks), BATCH_SIZE)])
        # The workers index while this process resolves and stores the links.
        store_all_links(catalog, resolver)
        stale: list[str] = []

        def advance(count: int) -> None:
            nonlocal done
            done += count
            progress("indexing", done, len(tasks))

        for worker in workers:
            result = worker.finish(advance)
            words.update(result.words)
            stale.extend(result.changed)
        return stale
    finally:
        for worker in workers:
            worker.kill()

