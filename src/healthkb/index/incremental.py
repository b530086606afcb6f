"""Incremental updates (SPEC §3): re-read files whose size or mtime changed,
re-index those whose content hash changed, drop removed ones, and recompute
only the links a change can touch (linkstate.py: O(change), not O(KB)).
The files compared are those of a whole scan, or of the folders that
folderscan.py found changed.

Whoosh is committed before the catalog, so a writer killed in between leaves
a catalog that still lists the old fingerprints (and the old folder digests),
and the next run redoes the work (re-indexing by unique id is idempotent).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

from healthkb.corpus import ArticleFile, Scan, Skipped, load_article
from healthkb.files import UndecodableError, current_body
from healthkb.index.catalog import Catalog
from healthkb.index.linkstate import snapshot, update_links
from healthkb.index.records import Progress, UpdateReport, article_values, shard_of
from healthkb.index.store import IndexDamaged, IndexPaths

# Skip reasons that may go away without the folder changing (a permission
# fixed): their folder's digest is stored empty, so the next update looks again.
LOOK_AGAIN = "unreadable"


@dataclass(slots=True)
class Taken:
    """What comparing scanned files with the catalog found and wrote."""

    skipped: list[Skipped] = field(default_factory=list)  # files that could not be read
    touched: list[tuple[int, int, str, str]] = field(default_factory=list)  # (size, mtime, path, id): same bytes, new stat


def incremental_update(paths: IndexPaths, catalog: Catalog, scan: Scan, report: UpdateReport, progress: Progress) -> None:
    """Bring the catalog and index in line with a scan of the whole KB."""
    known = {i: (size, mtime, None) for i, (size, mtime) in catalog.file_stats().items()}
    taken = take_in(paths, catalog, scan.files, known, report, progress)
    report.skipped = list(scan.skipped) + taken.skipped
    report.unchanged = len(scan.files) - len(taken.skipped) - len(report.added) - len(report.updated)
    with catalog.transaction():
        catalog.db.executemany("UPDATE articles SET size=?, mtime_ns=? WHERE id=?", [(s, m, i) for s, m, _p, i in taken.touched])
        catalog.replace_folders(scan.folders)
        catalog.replace_skipped((s.path, s.reason) for s in report.skipped)
        catalog.set_meta("updated_at", str(time.time()))


def take_in(paths, catalog: Catalog, files: list[ArticleFile], known: dict[str, tuple], report: UpdateReport, progress: Progress) -> Taken:
    """Compare ``files`` with ``known``, the catalog's rows for the same part
    of the KB (id → (size, mtime_ns, path or None)); read the files whose
    stat or path moved, and write the changed and removed ones (report:
    added, updated, removed)."""
    shards = int(catalog.get_meta("shards") or 1)
    taken = Taken()
    changed: dict[str, tuple] = {}  # id → (file, article, decoded)
    failed: set[str] = set()
    candidates = [f for f in files if _moved(f, known.get(f.id))]
    for done, file in enumerate(candidates, 1):
        try:
            article, decoded = load_article(file)
        except UndecodableError as exc:
            taken.skipped.append(Skipped(file.relpath, str(exc)))
            failed.add(file.id)
            continue
        except OSError as exc:
            taken.skipped.append(Skipped(file.relpath, f"{LOOK_AGAIN} ({exc.strerror})"))
            failed.add(file.id)
            continue
        if file.id in known and catalog.sha256_of(file.id) == decoded.sha256:
            taken.touched.append((file.size, file.mtime_ns, file.relpath, file.id))
        else:
            changed[file.id] = (file, article, decoded)
        progress("reading", done, len(candidates))
    present = {f.id for f in files} - failed
    removed = sorted(i for i in known if i not in present)
    report.added = sorted(i for i in changed if i not in known)
    report.updated = sorted(i for i in changed if i in known)
    report.removed = removed
    if changed or removed:
        _apply_changes(paths, catalog, changed, removed, shards, report)
    return taken


def _moved(file: ArticleFile, known: tuple | None) -> bool:
    if known is None:
        return True
    size, mtime_ns, path = known
    return (file.size, file.mtime_ns) != (size, mtime_ns) or (path is not None and path != file.relpath)


def _apply_changes(paths, catalog: Catalog, changed: dict, removed: list[str], shards: int, report) -> None:
    """Write the changed articles, their links and the links they touch, then
    the search index; the catalog commits last, so a failure in Whoosh leaves
    the catalog as it was and the next update redoes the work."""
    with catalog.transaction():
        before = snapshot(catalog, [*changed, *removed])
        catalog.delete_articles(removed)
        for article_id, (file, article, decoded) in changed.items():
            old = before.get(article_id)
            shard = old.shard if old else shard_of(article_id, shards)
            catalog.upsert_article(article_values(article, decoded, file.size, file.mtime_ns, shard))
        links = update_links(catalog, before, list(changed), removed)
        report.link_summary.update(links.link_summary)
        report.revived = links.revived
        words: Counter = Counter()
        from healthkb.index.schema import WORD_PATTERN, fold_for_index

        for _f, article, _d in changed.values():
            words.update(set(WORD_PATTERN.findall(fold_for_index(article.title + " " + article.body))))
        catalog.add_words(words)
        _update_whoosh(paths, catalog, changed, removed, before, links)


def load_writer_modules() -> None:
    """Import what changing the index needs: Whoosh's writer and searcher
    (a document update looks its old copy up), the schema and the codec.
    ``api.reindex`` calls this while the background walk runs, so that these
    ~85 modules load beside it rather than after it (the reading side's
    twin is ``load_searcher_modules``)."""
    from healthkb.query.startup import defer_unused_whoosh_modules

    defer_unused_whoosh_modules()  # before whoosh.query, as a search does
    import whoosh.searching  # noqa: F401
    import whoosh.writing  # noqa: F401

    import healthkb.index.codec  # noqa: F401
    import healthkb.index.schema  # noqa: F401


def old_shard(catalog: Catalog, article_id: str) -> int:
    return catalog.db.execute("SELECT shard FROM articles WHERE id=?", (article_id,)).fetchone()[0]


def _update_whoosh(paths, catalog, changed, removed, before, links) -> None:
    """Delete removed documents and (re)index changed or retitled ones, shard by shard.

    Runs inside the catalog's transaction, which still shows removed articles'
    shards through ``removed_shards``."""
    from whoosh import index as whoosh_index

    from healthkb.index.codec import merge_policy
    from healthkb.index.codec import writer as compact_writer

    generation = int(catalog.get_meta("generation"))
    work: dict[int, list] = {}
    for article_id in removed:
        work.setdefault(before[article_id].shard, []).append(("delete", article_id, None))
    for article_id, (file, article, _decoded) in changed.items():
        shard = old_shard(catalog, article_id)
        doc = dict(id=article_id, title=links.titles[article_id][0], body=article.body)
        work.setdefault(shard, []).append(("update", article_id, doc))
    for article_id in links.retitled:
        row = catalog.article(article_id)
        body = current_body(os.path.join(paths.kb.root, row.path), row.sha256)
        if body is None:
            continue  # changed on disk meanwhile: the next update re-reads it
        doc = dict(id=article_id, title=row.title, body=body)
        work.setdefault(row.shard, []).append(("update", article_id, doc))
    for shard, items in sorted(work.items()):
        try:
            ix = whoosh_index.open_dir(str(paths.shard_dir(generation, shard)))
            writer = compact_writer(ix, compound=False, timeout=5.0)
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
            writer.commit(mergetype=merge_policy)
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
