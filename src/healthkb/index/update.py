"""Bring the index up to date with the KB: full builds and incremental updates.

SPEC §3: a file is re-read only when its size or mtime changed and re-indexed
only when its content hash changed; removed files leave the index; links are
recomputed for every article a change can touch.  All writing happens under
the write lock; Whoosh is committed before the catalog, so a writer killed in
between leaves a catalog that still lists the old fingerprints, and the next
run simply redoes the work (re-indexing by unique id is idempotent).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from healthkb.article import Article
from healthkb.errors import IndexUnavailableError
from healthkb.corpus import Decoded, Skipped, UndecodableError, load_article, scan_kb
from healthkb.index.catalog import KIND_CODES, STATUS_CODES, Catalog, key_hash
from healthkb.index.lock import WriteLock
from healthkb.index.resolvercache import load_resolver, new_stamp, save_resolver
from healthkb.index.store import (
    IndexPaths,
    catalog_problem,
    discard_catalog,
    ensure_state_dir,
    remove_stale_generations,
)
from healthkb.index.workers import BATCH_SIZE, DocTask, ShardWorker, index_documents, read_body
from healthkb.links import KEY_PREFIX_LIMIT, MIN_TEASER_KEY, ArticleKeys, LinkResolver, teaser_key
from healthkb.text import match_key, title_from_filename

Progress = Callable[[str, int, int], None]  # (phase, done, total)
PARALLEL_MIN_DOCS = 800  # below this, starting worker processes costs more than it saves
MAX_SHARDS = 4


@dataclass(slots=True)
class UpdateReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    full: bool = False
    notices: list[str] = field(default_factory=list)
    revived: int = 0  # links elsewhere that were missing and now resolve
    link_summary: dict[str, tuple[int, int]] = field(default_factory=dict)  # id → (resolved, total)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def _noop(phase: str, done: int, total: int) -> None:
    pass


def _article_values(article: Article, decoded: Decoded, size: int, mtime_ns: int, shard: int) -> dict:
    return {
        "id": article.id,
        "path": article.path,
        "size": size,
        "mtime_ns": mtime_ns,
        "sha256": decoded.sha256,
        "shard": shard,
        "title": article.title,
        "title_source": article.title_source,
        "title_key": match_key(article.title),
        "base_title": article.title,
        "base_source": article.title_source,
        "prev": article.prev,
        "next": article.next,
        "teasers": json.dumps(article.teasers, ensure_ascii=False),
        "opening": ArticleKeys.from_article(article).opening,
        "words": article.words,
        "encoding": article.encoding,
        "warnings": json.dumps(article.warnings, ensure_ascii=False),
    }


def shard_of(article_id: str, shards: int) -> int:
    return zlib.crc32(article_id.encode("utf-8")) % shards


def update_index(
    paths: IndexPaths,
    *,
    full: bool = False,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> UpdateReport:
    """Update (or with ``full``, rebuild) the index of ``paths.kb`` under the write lock."""
    started = time.perf_counter()
    progress = progress or _noop
    ensure_state_dir(paths)
    report = UpdateReport(notices=list(paths.notices))
    with WriteLock(paths.state, timeout):
        problem = catalog_problem(paths)
        if problem:
            report.notices.append(f"{problem}; rebuilding it")
            discard_catalog(paths)
            full = True
        try:
            _update_or_build(paths, full, report, progress)
        except (sqlite3.DatabaseError, IndexDamaged):
            # Damage found on the way (a corrupt page, an unreadable shard):
            # the index is a cache, so start it again from the articles.
            if not any("damaged" in notice for notice in report.notices):
                report.notices.append("the index was damaged; rebuilding it")
            discard_catalog(paths)
            try:
                _update_or_build(paths, True, report, progress)
            except sqlite3.DatabaseError as exc:
                raise IndexUnavailableError(f"cannot build the index in {paths.state}: {exc}") from exc
    report.seconds = time.perf_counter() - started
    return report


class IndexDamaged(Exception):
    """A Whoosh shard of the current generation could not be opened."""


def _update_or_build(paths: IndexPaths, full: bool, report: UpdateReport, progress: Progress) -> None:
    catalog = Catalog(paths.catalog, writer=True)
    try:
        catalog.create()
        if catalog.get_meta("generation") is None:
            full = True
        scan = scan_kb(paths.kb.root)
        if full:
            _full_build(paths, catalog, scan, report, progress)
        else:
            _incremental(paths, catalog, scan, report, progress)
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
            catalog.upsert_article(_article_values(article, decoded, file.size, file.mtime_ns, shard))
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
            _store_all_links(catalog, resolver)
        _store_titles(catalog, resolver.titles())
        if stale:
            catalog.db.executemany("UPDATE articles SET mtime_ns=-1 WHERE id=?", ((i,) for i in stale))
        catalog.add_words(words)
        catalog.replace_folders(scan.folders)
        catalog.replace_skipped((s.path, s.reason) for s in skipped)
        catalog.set_meta("generation", str(generation))
        catalog.set_meta("shards", str(shards))
        stamp = new_stamp(catalog)
        catalog.set_meta("updated_at", str(time.time()))
    save_resolver(paths, resolver, stamp)
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
        _store_all_links(catalog, resolver)
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


# -- links ------------------------------------------------------------------


def _link_rows(resolver: LinkResolver, rowids: dict[str, int], prev, nxt, teasers) -> list[tuple]:
    rows = []
    for link in resolver.resolve("", prev, nxt, teasers):
        key = teaser_key(link.text) if link.kind == "related" else match_key(link.text)
        kind, status, hashed = KIND_CODES[link.kind], STATUS_CODES[link.status], key_hash(key)
        if link.targets:
            rows.extend((kind, link.ordinal, hashed, status, rowids[t]) for t in link.targets)
        else:
            rows.append((kind, link.ordinal, hashed, status, None))
    return rows


def _store_all_links(catalog: Catalog, resolver: LinkResolver) -> None:
    rowids = catalog.rowid_map()
    catalog.clear_links()
    cursor = catalog.db.execute("SELECT rowid, prev, next, teasers FROM articles")
    batch: list[tuple] = []
    for src, prev, nxt, teasers in cursor.fetchall():
        batch.extend((src, *row) for row in _link_rows(resolver, rowids, prev, nxt, json.loads(teasers)))
        if len(batch) > 20_000:
            catalog.insert_links(batch)
            batch = []
    catalog.insert_links(batch)


def _store_titles(catalog: Catalog, titles) -> None:
    catalog.db.executemany(
        "UPDATE articles SET title=?, title_source=?, title_key=? WHERE id=? AND title IS NOT ?",
        ((title, source, match_key(title), article_id, title) for article_id, title, source in titles),
    )


def _nav_hashes(article_id: str, titles: list[str]) -> set[int]:
    keys = {match_key(t) for t in titles if t}
    stem_title = title_from_filename(article_id.rsplit("/", 1)[-1])
    if stem_title:
        keys.add(match_key(stem_title))
    return {key_hash(k) for k in keys if k}


def _opening_hashes(opening: str) -> set[int]:
    opening = opening[:KEY_PREFIX_LIMIT]
    return {key_hash(opening[:n]) for n in range(MIN_TEASER_KEY, len(opening) + 1)}


# -- incremental update -------------------------------------------------------


def _incremental(paths: IndexPaths, catalog: Catalog, scan, report: UpdateReport, progress: Progress) -> None:
    known = catalog.fingerprints()
    shards = int(catalog.get_meta("shards") or 1)
    skipped = list(scan.skipped)
    changed: dict[str, tuple] = {}  # id → (file, article, decoded)
    touched: list[tuple[int, int, str]] = []  # (size, mtime, id): same content, new stat
    failed: set[str] = set()
    candidates = [f for f in scan.files if f.id not in known or (f.size, f.mtime_ns) != known[f.id][:2]]
    for done, file in enumerate(candidates, 1):
        try:
            article, decoded = load_article(file)
        except UndecodableError as exc:
            skipped.append(Skipped(file.relpath, str(exc)))
            failed.add(file.id)
            continue
        except OSError as exc:
            skipped.append(Skipped(file.relpath, f"unreadable ({exc.strerror})"))
            failed.add(file.id)
            continue
        if file.id in known and known[file.id][2] == decoded.sha256:
            touched.append((file.size, file.mtime_ns, file.id))
        else:
            changed[file.id] = (file, article, decoded)
        progress("reading", done, len(candidates))
    present = {f.id for f in scan.files} - failed
    removed = sorted(i for i in known if i not in present)
    report.skipped = skipped
    report.added = sorted(i for i in changed if i not in known)
    report.updated = sorted(i for i in changed if i in known)
    report.removed = removed
    report.unchanged = len(present) - len(changed)

    if changed or removed:
        _apply_changes(paths, catalog, changed, removed, shards, report)
    with catalog.transaction():
        catalog.db.executemany("UPDATE articles SET size=?, mtime_ns=? WHERE id=?", touched)
        catalog.replace_folders(scan.folders)
        catalog.replace_skipped((s.path, s.reason) for s in skipped)
        catalog.set_meta("updated_at", str(time.time()))


def _nav_neutral(catalog: Catalog, changed: dict, removed: list[str]) -> dict | None:
    """Old rows of the changed articles when the change keeps every title and
    nav line as it was (only bodies changed), else None."""
    if removed:
        return None
    marks = ",".join("?" * len(changed))
    rows = catalog.db.execute(
        f"SELECT id, title, base_title, opening, shard, rowid, sha256, base_source, prev, next "
        f"FROM articles WHERE id IN ({marks})",
        list(changed),
    ).fetchall()
    if len(rows) != len(changed):
        return None  # an added article
    for row in rows:
        article = changed[row[0]][1]
        if (row[2], row[7], row[8], row[9]) != (article.title, article.title_source, article.prev, article.next):
            return None
    return {row[0]: row for row in rows}


def _resolver_for(paths, catalog: Catalog, changed: dict, removed: list[str]):
    """(resolver, old rows, display titles) after the change, reusing the saved
    resolver when only bodies changed."""
    old_rows = _nav_neutral(catalog, changed, removed)
    resolver = load_resolver(paths, catalog) if old_rows is not None else None
    if resolver is not None:
        for article_id, (_file, article, _decoded) in changed.items():
            resolver.replace_opening(article_id, old_rows[article_id][3], ArticleKeys.from_article(article).opening)
        return resolver, old_rows, {i: resolver.title(i) for i in changed}
    old_rows = {
        row[0]: row
        for row in catalog.db.execute("SELECT id, title, base_title, opening, shard, rowid, sha256 FROM articles")
    }
    keys = []
    for article_id, base_title, base_source, prev, nxt, opening in catalog.db.execute(
        "SELECT id, base_title, base_source, prev, next, opening FROM articles"
    ):
        if article_id not in changed and article_id not in removed:
            keys.append(ArticleKeys(article_id, base_title, base_source, prev, nxt, opening))
    keys.extend(ArticleKeys.from_article(article) for _f, article, _d in changed.values())
    resolver = LinkResolver(keys)
    return resolver, old_rows, {article_id: (title, source) for article_id, title, source in resolver.titles()}


def _apply_changes(paths, catalog: Catalog, changed: dict, removed: list[str], shards: int, report) -> None:
    resolver, old_rows, new_titles = _resolver_for(paths, catalog, changed, removed)
    retitled = [
        i for i, (title, _s) in new_titles.items() if i not in changed and old_rows[i][1] != title
    ]

    # Which links can this change touch?  Those naming an old or new title of a
    # changed article, teasers that are prefixes of an old or new opening, and
    # every link that pointed at a changed or removed article.
    hashes: set[int] = set()
    for article_id in [*changed, *removed, *retitled]:
        old = old_rows.get(article_id)
        titles = [old[1], old[2]] if old else []
        if article_id in new_titles:
            titles.append(new_titles[article_id][0])
        if article_id in changed:
            titles.append(changed[article_id][1].title)
        hashes |= _nav_hashes(article_id, titles)
        if old:
            hashes |= _opening_hashes(old[3] or "")
        if article_id in changed:
            hashes |= _opening_hashes(ArticleKeys.from_article(changed[article_id][1]).opening)
    touched_rowids = [old_rows[i][5] for i in [*changed, *removed, *retitled] if i in old_rows]
    affected = catalog.sources_with_keyhashes(hashes) | catalog.sources_linking_to(touched_rowids)

    _update_whoosh(paths, catalog, changed, removed, retitled, new_titles, old_rows, shards)

    with catalog.transaction():
        catalog.delete_articles(removed)
        for article_id, (file, article, decoded) in changed.items():
            old = old_rows.get(article_id)
            shard = old[4] if old else shard_of(article_id, shards)
            catalog.upsert_article(_article_values(article, decoded, file.size, file.mtime_ns, shard))
        _store_titles(catalog, ((i, *new_titles[i]) for i in [*changed, *retitled]))
        rowids = catalog.rowid_map()
        removed_rowids = {old_rows[i][5] for i in removed}
        sources = (affected - removed_rowids) | {rowids[i] for i in changed}
        before = _statuses(catalog, sources)
        rows = catalog.db.execute(
            f"SELECT rowid, id, prev, next, teasers FROM articles WHERE rowid IN ({','.join('?' * len(sources))})",
            list(sources),
        ).fetchall() if sources else []
        for src, article_id, prev, nxt, teasers in rows:
            link_rows = _link_rows(resolver, rowids, prev, nxt, json.loads(teasers))
            catalog.replace_links(src, link_rows)
            if article_id in changed:
                links = {(r[0], r[1]): r[3] for r in link_rows}
                resolved = sum(1 for status in links.values() if status == STATUS_CODES["resolved"])
                report.link_summary[article_id] = (resolved, len(links))
        after = _statuses(catalog, sources)
        changed_rowids = {rowids[i] for i in changed}
        report.revived = sum(
            1
            for link, status in after.items()
            if link[0] not in changed_rowids
            and status == STATUS_CODES["resolved"]
            and before.get(link) == STATUS_CODES["missing"]
        )
        words: Counter = Counter()
        from healthkb.index.schema import WORD_PATTERN, fold_for_index

        for _f, article, _d in changed.values():
            words.update(set(WORD_PATTERN.findall(fold_for_index(article.title + " " + article.body))))
        catalog.add_words(words)
        stamp = new_stamp(catalog)
    save_resolver(paths, resolver, stamp)


def _statuses(catalog: Catalog, sources: set[int]) -> dict[tuple[int, int, int], int]:
    if not sources:
        return {}
    marks = ",".join("?" * len(sources))
    rows = catalog.db.execute(f"SELECT src, kind, ordinal, status FROM links WHERE src IN ({marks})", list(sources))
    return {(src, kind, ordinal): status for src, kind, ordinal, status in rows}


def _update_whoosh(paths, catalog, changed, removed, retitled, new_titles, old_rows, shards) -> None:
    """Delete removed documents and (re)index changed or retitled ones, shard by shard."""
    from whoosh import index as whoosh_index

    generation = int(catalog.get_meta("generation"))
    work: dict[int, list] = {}
    for article_id in removed:
        work.setdefault(old_rows[article_id][4], []).append(("delete", article_id, None))
    for article_id, (file, article, _decoded) in changed.items():
        shard = old_rows[article_id][4] if article_id in old_rows else shard_of(article_id, shards)
        doc = dict(id=article_id, title=new_titles[article_id][0], body=article.body)
        work.setdefault(shard, []).append(("update", article_id, doc))
    for article_id in retitled:
        row = old_rows[article_id]
        body, _ = read_body(os.path.join(paths.kb.root, catalog.article(article_id).path), row[6])
        if body is None:
            continue  # changed on disk meanwhile: the next update re-reads it
        doc = dict(id=article_id, title=new_titles[article_id][0], body=body)
        work.setdefault(row[4], []).append(("update", article_id, doc))
    for shard, items in sorted(work.items()):
        try:
            ix = whoosh_index.open_dir(str(paths.shard_dir(generation, shard)))
            writer = ix.writer(compound=False, timeout=5.0)
        except Exception as exc:  # noqa: BLE001 - whatever broke the shard, rebuild it
            raise IndexDamaged(f"shard {shard}: {type(exc).__name__}: {exc}") from exc
        try:
            for action, article_id, doc in items:
                if action == "delete":
                    writer.delete_by_term("id", article_id)
                else:
                    writer.update_document(**doc)
            # Committing merges small segments, so it reads old ones too:
            # damage can show up here as well as above.
            writer.commit()
        except Exception as exc:  # noqa: BLE001 - a damaged segment raises many types
            _cancel(writer)
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                raise  # a full disk or lost permissions: a rebuild would not help
            raise IndexDamaged(f"shard {shard}: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            _cancel(writer)
            raise
        ix.close()


def _cancel(writer) -> None:
    try:
        writer.cancel()
    except Exception:  # noqa: BLE001 - a writer that failed half-way may fail to cancel too
        pass
