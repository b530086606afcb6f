"""Incremental updates (SPEC §3): re-read files whose size or mtime changed,
re-index those whose content hash changed, drop removed ones, and recompute
only the links a change can touch (linkstate.py: O(change), not O(KB)).

Finding what changed is O(change) too: the catalog keeps, for every folder the
scan enters, :func:`healthkb.freshness.tree_state`'s digest of that folder
(its mtime and its ``*.txt`` entries' names and stats) as of the last update.
An update rescans only the folders whose digest moved and compares their
files with the catalog's rows for those folders; an unchanged folder costs
nothing beyond the stat walk that computed the digests.  A KB whose layout a
folder-by-folder scan cannot place (symlinked folders, non-ASCII ids, an
unreadable folder) falls back to scanning the whole KB.

Whoosh is committed before the catalog, so a writer killed in between leaves
a catalog that still lists the old fingerprints (and the old folder digests),
and the next run redoes the work (re-indexing by unique id is idempotent).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

from healthkb.corpus import ArticleFile, Scan, Skipped, UndecodableError, current_body, load_article, scan_folders
from healthkb.index.catalog import Catalog
from healthkb.index.linkstate import snapshot, update_links
from healthkb.index.records import Progress, UpdateReport, article_values, shard_of
from healthkb.index.store import IndexDamaged, IndexPaths
from healthkb.kb import remove_stale_copies

# Catalog meta: "1" when folder_digests can stand for a walk of the whole KB
# (the last full scan met no symlinked folder and no non-ASCII id).
FOLDER_SCAN_KEY = "folder_scan"
# Skip reasons that may go away without the folder changing (a permission
# fixed): their folder's digest is stored empty, so the next update looks again.
_LOOK_AGAIN = "unreadable"


@dataclass(slots=True)
class _Taken:
    """What comparing scanned files with the catalog found and wrote."""

    skipped: list[Skipped] = field(default_factory=list)  # files that could not be read
    touched: list[tuple[int, int, str, str]] = field(default_factory=list)  # (size, mtime, path, id): same bytes, new stat


def incremental_update(paths: IndexPaths, catalog: Catalog, scan: Scan, report: UpdateReport, progress: Progress) -> None:
    """Bring the catalog and index in line with a scan of the whole KB."""
    known = {i: (size, mtime, None) for i, (size, mtime) in catalog.file_stats().items()}
    taken = _take_in(paths, catalog, scan.files, known, report, progress)
    report.skipped = list(scan.skipped) + taken.skipped
    report.unchanged = len(scan.files) - len(taken.skipped) - len(report.added) - len(report.updated)
    with catalog.transaction():
        catalog.db.executemany("UPDATE articles SET size=?, mtime_ns=? WHERE id=?", [(s, m, i) for s, m, _p, i in taken.touched])
        catalog.replace_folders(scan.folders)
        catalog.replace_skipped((s.path, s.reason) for s in report.skipped)
        catalog.set_meta("updated_at", str(time.time()))


def store_folder_digests(catalog: Catalog, root: str, digests: dict[str, bytes], scan: Scan, skipped: list[Skipped]) -> None:
    """After a scan of the whole KB: keep each entered folder's digest, so
    that the next update can rescan only the folders that changed."""
    by_rel = digests_by_folder(root, digests)
    kept = {rel: by_rel.get(rel, b"") for rel in scan.folders}
    for rel in _folders_to_look_at_again(skipped):
        if rel in kept:
            kept[rel] = b""
    with catalog.transaction():
        catalog.replace_folder_digests(kept)
        simple = not scan.linked and all(f.id.isascii() for f in scan.files)
        catalog.set_meta(FOLDER_SCAN_KEY, "1" if simple else "0")


def digests_by_folder(root: str, digests: dict[str, bytes]) -> dict[str, bytes]:
    """tree_state's folder digests, keyed by path relative to the KB ("" = root)."""
    real_root = os.path.realpath(root)
    cut = len(real_root) + 1
    return {("" if path == real_root else path[cut:]): digest for path, digest in digests.items()}


def update_changed_folders(paths: IndexPaths, catalog: Catalog, digests: dict[str, bytes], report: UpdateReport, progress: Progress) -> bool:
    """The O(change) update: rescan only the folders whose digest moved since
    the catalog took them in.  Returns False, having written nothing, when
    only a scan of the whole KB can tell (then the caller runs one)."""
    stored = _stored_digests(catalog)
    if stored is None or b"" in digests.values():
        return False
    now = digests_by_folder(paths.kb.root, digests)
    dirty = sorted(rel for rel in stored.keys() | now.keys() if stored.get(rel) != now.get(rel))
    found = _rescan(paths.kb.root, dirty, stored, now)
    if found is None:
        return False
    scan, rescanned, dropped = found
    _take_in_folders(paths, catalog, scan, rescanned, dropped, {rel: now[rel] for rel in rescanned}, report, progress)
    return True


def update_touched_folders(paths: IndexPaths, catalog: Catalog, files: list[str], report: UpdateReport, progress: Progress) -> bool:
    """After ``add`` or ``edit``, which know the files they wrote: rescan the
    folders of ``files`` (relative paths) alone, without walking the KB.

    Their stored digests stay as they were, so the next reading command,
    whose walk finds them moved, looks at those folders again and records the
    KB as current; until then nothing is claimed about the rest of the KB.
    Returns False, having written nothing, when a whole update is needed (a
    new folder, a folder that lost or gained subfolders, a KB kept by whole scans)."""
    stored = _stored_digests(catalog)
    folders = sorted({_folder_of(rel) for rel in files})
    if stored is None or any(rel not in stored for rel in folders):
        return False
    found = _rescan(paths.kb.root, folders, stored, stored)
    if found is None or found[2]:
        return False
    scan, rescanned, _dropped = found
    if any(sub not in stored for sub in scan.subfolders):
        return False  # a new subfolder: only a walk gives its digest
    _take_in_folders(paths, catalog, scan, rescanned, [], {}, report, progress)
    return True


def _stored_digests(catalog: Catalog) -> dict[str, bytes] | None:
    if catalog.get_meta(FOLDER_SCAN_KEY) != "1":
        return None
    stored = catalog.folder_digests()
    return stored if "" in stored else None


def _take_in_folders(paths, catalog: Catalog, scan: Scan, rescanned: list[str], dropped: list[str], digests: dict[str, bytes], report, progress) -> None:
    """Compare the rescanned folders' files with the catalog's rows for them
    (and drop those of folders no longer entered), then record the skipped
    files and the rescanned folders' mtimes and ``digests``."""
    area = set(rescanned) | set(dropped)
    known = catalog.file_stats_in(area)
    count_before = catalog.count()
    scan.skipped.extend(Skipped(rel, reason) for rel, reason in remove_stale_copies(scan.temporaries))
    taken = _take_in(paths, catalog, scan.files, known, report, progress)
    old_skipped = catalog.skipped()
    kept = [Skipped(path, reason) for path, reason in old_skipped if _folder_of(path) not in area and path not in area]
    report.skipped = kept + scan.skipped + taken.skipped
    report.unchanged = count_before - len(report.removed) - len(report.updated)
    for rel in _folders_to_look_at_again(scan.skipped + taken.skipped):
        digests[rel] = b""
    with catalog.transaction():
        catalog.db.executemany("UPDATE articles SET size=?, mtime_ns=?, path=? WHERE id=?", taken.touched)
        if len(kept) != len(old_skipped) or scan.skipped or taken.skipped:
            catalog.replace_skipped((s.path, s.reason) for s in report.skipped)
        catalog.change_folders({rel: scan.folders[rel] for rel in rescanned if rel in scan.folders}, digests, dropped)
        catalog.set_meta("updated_at", str(time.time()))


def _rescan(root, dirty: list[str], stored: dict[str, bytes], now: dict[str, bytes]) -> tuple[Scan, list[str], list[str]] | None:
    """Scan the ``dirty`` folders that the scan enters (parents first, so that
    a new subfolder is entered when its parent's listing shows it; ``now``
    says which folders exist) and list the stored ones it no longer enters.
    None when the whole KB must be scanned."""
    entered = set(stored)
    scan = Scan()
    rescanned: list[str] = []
    dropped: list[str] = []
    for rel in dirty:  # a parent sorts before its children
        entering = rel in now and rel in entered and (not rel or _folder_of(rel) in entered)
        if not entering:
            if rel in stored:  # gone, or its parent no longer lists it
                entered.discard(rel)
                dropped.append(rel)
            continue  # else not a folder the scan enters (under a skipped one)
        part = scan_folders(root, [rel])
        if part.linked or not part.folders or not all(f.id.isascii() for f in part.files):
            return None
        if any(s.reason.startswith("unreadable folder") for s in part.skipped):
            return None
        children = {c for c in entered if c and _folder_of(c) == rel}
        if any(c in now for c in children.difference(part.subfolders)):
            return None  # still there yet no longer entered: let a whole scan say why
        entered.difference_update(children)
        entered.update(part.subfolders)
        scan.files += part.files
        scan.skipped += part.skipped
        scan.temporaries += part.temporaries
        scan.folders.update(part.folders)
        scan.subfolders += part.subfolders
        rescanned.append(rel)
    return scan, rescanned, dropped


def _folder_of(rel: str) -> str:
    return rel.rpartition("/")[0]


def _folders_to_look_at_again(skipped: list[Skipped]) -> set[str]:
    return {_folder_of(s.path) for s in skipped if s.reason.startswith(_LOOK_AGAIN)}


def _take_in(paths, catalog: Catalog, files: list[ArticleFile], known: dict[str, tuple], report: UpdateReport, progress: Progress) -> _Taken:
    """Compare ``files`` with what the catalog ``known``s of the same folders
    (id → (size, mtime_ns, path or None)), read those whose stat or path
    moved, and write the changed and removed ones (report: added, updated,
    removed)."""
    shards = int(catalog.get_meta("shards") or 1)
    taken = _Taken()
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
            taken.skipped.append(Skipped(file.relpath, f"{_LOOK_AGAIN} ({exc.strerror})"))
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
