"""Incremental updates (SPEC §3): re-read files whose size or mtime changed,
re-index those whose content hash changed, drop removed ones, and recompute
only the links a change can touch.

Whoosh is committed before the catalog, so a writer killed in between leaves
a catalog that still lists the old fingerprints, and the next run redoes the
work (re-indexing by unique id is idempotent).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

from healthkb.corpus import Skipped, UndecodableError, current_body, load_article
from healthkb.index.catalog import STATUS_CODES, Catalog
from healthkb.index.records import (
    Progress,
    UpdateReport,
    article_values,
    link_rows,
    nav_hashes,
    opening_hashes,
    shard_of,
    store_titles,
)
from healthkb.index.resolvercache import load_resolver, new_stamp, save_resolver
from healthkb.index.store import IndexDamaged, IndexPaths
from healthkb.links import ArticleKeys, LinkResolver


def incremental_update(paths: IndexPaths, catalog: Catalog, scan, report: UpdateReport, progress: Progress) -> None:
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
        hashes |= nav_hashes(article_id, titles)
        if old:
            hashes |= opening_hashes(old[3] or "")
        if article_id in changed:
            hashes |= opening_hashes(ArticleKeys.from_article(changed[article_id][1]).opening)
    touched_rowids = [old_rows[i][5] for i in [*changed, *removed, *retitled] if i in old_rows]
    affected = catalog.sources_with_keyhashes(hashes) | catalog.sources_linking_to(touched_rowids)

    _update_whoosh(paths, catalog, changed, removed, retitled, new_titles, old_rows, shards)

    with catalog.transaction():
        catalog.delete_articles(removed)
        for article_id, (file, article, decoded) in changed.items():
            old = old_rows.get(article_id)
            shard = old[4] if old else shard_of(article_id, shards)
            catalog.upsert_article(article_values(article, decoded, file.size, file.mtime_ns, shard))
        store_titles(catalog, ((i, *new_titles[i]) for i in [*changed, *retitled]))
        rowids = catalog.rowid_map()
        removed_rowids = {old_rows[i][5] for i in removed}
        sources = (affected - removed_rowids) | {rowids[i] for i in changed}
        before = _statuses(catalog, sources)
        rows = catalog.db.execute(
            f"SELECT rowid, id, prev, next, teasers FROM articles WHERE rowid IN ({','.join('?' * len(sources))})",
            list(sources),
        ).fetchall() if sources else []
        for src, article_id, prev, nxt, teasers in rows:
            new_rows = link_rows(resolver, rowids, prev, nxt, json.loads(teasers))
            catalog.replace_links(src, new_rows)
            if article_id in changed:
                links = {(r[0], r[1]): r[3] for r in new_rows}
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
        body = current_body(os.path.join(paths.kb.root, catalog.article(article_id).path), row[6])
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
