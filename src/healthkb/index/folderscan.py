"""Which folders changed since the catalog last took the KB in, found in
O(change): the catalog keeps, for every folder the scan enters,
:func:`healthkb.freshness.tree_state`'s digest of that folder (its mtime and
its ``*.txt`` entries' names, sizes, mtimes and inodes) as of the last update.
An update rescans only the folders whose digest moved (corpus.scan_folders)
and compares their files with the catalog's rows for those folders
(incremental.py); an unchanged folder costs nothing beyond the stat walk that
computed the digests, and the rescan takes each file's stat from that walk.
Files the walk found as the catalog has them (same name, size and mtime)
are left out of the rescan: one edit in a folder of 10,000 articles costs
one file's look.  A KB that a folder-by-folder scan cannot place
(symlinked folders, non-ASCII ids, an unreadable folder) is scanned whole.

The digests are written last, in the transaction that records the skipped
files, so a writer killed before leaves the old ones: those folders are
rescanned next time, which is safe (a stored digest only ever describes a
state the catalog has taken in, or an older one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from healthkb.corpus import Scan, Skipped, article_id, scan_folders
from healthkb.freshness import listed_stats
from healthkb.index.catalog import Catalog
from healthkb.index.incremental import LOOK_AGAIN, take_in
from healthkb.index.records import Progress, UpdateReport
from healthkb.index.store import IndexPaths
from healthkb.kb import remove_stale_copies

# Catalog meta: "1" when folder_digests can stand for a walk of the whole KB
# (the last full scan met no symlinked folder and no non-ASCII id).
FOLDER_SCAN_KEY = "folder_scan"


def store_folder_digests(catalog: Catalog, root: str, digests: dict[str, bytes], scan: Scan, skipped: list[Skipped]) -> None:
    """After a scan of the whole KB: keep each entered folder's digest, so
    that the next update can rescan only the folders that changed."""
    by_rel = digests_by_folder(root, digests)
    kept = {rel: by_rel.get(rel, b"") for rel in scan.folders}
    for rel in _folders_to_look_at_again(skipped):
        if rel in kept:
            kept[rel] = b""
    with catalog.transaction():
        catalog.db.execute("DELETE FROM folder_digests")
        catalog.db.executemany("INSERT INTO folder_digests(path, digest) VALUES (?, ?)", kept.items())
        simple = not scan.linked and all(f.id.isascii() for f in scan.files)
        catalog.set_meta(FOLDER_SCAN_KEY, "1" if simple else "0")


def digests_by_folder(root: str, digests: dict[str, bytes]) -> dict[str, bytes]:
    """tree_state's folder digests, keyed by path relative to the KB ("" = root)."""
    real_root = os.path.realpath(root)
    cut = len(real_root) + 1
    return {("" if path == real_root else path[cut:]): digest for path, digest in digests.items()}


def update_changed_folders(
    paths: IndexPaths, catalog: Catalog, digests: dict[str, bytes], report: UpdateReport, progress: Progress,
    listings: dict[str, tuple[bytes, bytes]] | None = None,
) -> bool:
    """The O(change) update: rescan only the folders whose digest moved since
    the catalog took them in.  ``listings`` (tree_state's, of the walk that
    gave ``digests``) spares the rescan the stat of each file: the stat the
    digest was taken from is the one to record.  Returns False, having
    written nothing, when only a scan of the whole KB can tell (then the
    caller runs one)."""
    stored = _stored_digests(catalog)
    if stored is None or b"" in digests.values():
        return False
    now = digests_by_folder(paths.kb.root, digests)
    dirty = sorted(rel for rel in stored.keys() | now.keys() if stored.get(rel) != now.get(rel))
    listed = _listed(paths.kb.root, dirty, listings or {})
    rows = {rel: _file_stats_in(catalog, [rel]) for rel in listed}
    unchanged = _unchanged_files(listed, rows)
    real_root = os.path.realpath(paths.kb.root)
    # The walk's stats of the files the rescan looks at, keyed as it looks them up.
    stats = {
        rel: {os.path.join(real_root, rel, name): stat for name, stat in names.items() if name not in unchanged.get(rel, ())}
        for rel, names in listed.items()
    }
    found = _rescan(paths.kb.root, dirty, stored, now, stats, unchanged)
    if found is None:
        return False
    scan, rescanned, dropped = found
    _take_in_folders(paths, catalog, scan, rescanned, dropped, {rel: now[rel] for rel in rescanned}, report, progress, rows, unchanged)
    return True


def _listed(root, dirty: list[str], listings: dict[str, tuple[bytes, bytes]]) -> dict[str, dict]:
    """rel → {file name: (size, mtime_ns)} of the ``dirty`` folders' files as the walk listed them."""
    real_root = os.path.realpath(root)
    found = {}
    for rel in dirty:
        listing = listings.get(os.path.join(real_root, rel) if rel else real_root)
        names = listed_stats(listing) if listing else None
        if names is not None:
            found[rel] = names
    return found


def _unchanged_files(listed: dict[str, dict], rows: dict[str, dict]) -> dict[str, dict[str, str]]:
    """Per listed folder, the files the walk found with the very name, size
    and mtime the catalog holds for an article there: rel → {file name: id}.
    Scanning one again would make the same article of it, so the rescan
    leaves them out and looks only at what was added, removed, renamed or
    saved since (a folder of 10,000 articles where one was edited costs one
    file's look, not 10,000)."""
    found = {}
    for rel, names in listed.items():
        cut = len(rel) + 1 if rel else 0
        same = {}
        for known_id, (size, mtime_ns, path) in rows[rel].items():
            if names.get(path[cut:]) == (size, mtime_ns):
                same[path[cut:]] = known_id
        others = {article_id(f"{rel}/{name}" if rel else name) for name in names if name not in same}
        if others.isdisjoint(same.values()):  # else x.txt came beside an unchanged x.TXT: all of them decide who keeps the id
            found[rel] = same
    return found


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
    found = _rescan(paths.kb.root, folders, stored, stored, {}, {})
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
    stored = dict(catalog.db.execute("SELECT path, digest FROM folder_digests"))
    return stored if "" in stored else None


def _rescan(
    root, dirty: list[str], stored: dict[str, bytes], now: dict[str, bytes], stats: dict[str, dict], unchanged: dict[str, dict]
) -> tuple[Scan, list[str], list[str]] | None:
    """Scan the ``dirty`` folders that the scan enters (parents first, so that
    a new subfolder is entered when its parent's listing shows it; ``now``
    says which folders exist; ``stats``, by folder, the walk's stats;
    ``unchanged``, by folder, the files to leave out) and list the stored
    ones it no longer enters.  None when the whole KB must be scanned."""
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
        part = scan_folders(root, [rel], stats=stats.get(rel), skip=unchanged.get(rel))
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


def _take_in_folders(
    paths, catalog: Catalog, scan: Scan, rescanned: list[str], dropped: list[str], digests: dict[str, bytes], report, progress,
    rows: dict[str, dict] | None = None, unchanged: dict[str, dict] | None = None,
) -> None:
    """Compare the rescanned folders' files with the catalog's rows for them
    (``rows``: those already read, by folder; the ``unchanged`` files' rows
    left out, as their files were) and drop those of folders no longer
    entered, then record the skipped files and the rescanned folders'
    mtimes and ``digests``."""
    rows, unchanged = rows or {}, unchanged or {}
    area = set(rescanned) | set(dropped)
    known = _file_stats_in(catalog, area.difference(rows))
    for rel in area.intersection(rows):
        same = set(unchanged.get(rel, {}).values()) if rel in rescanned else ()  # a dropped folder loses them all
        known.update((known_id, row) for known_id, row in rows[rel].items() if known_id not in same)
    count_before = catalog.count()
    scan.skipped.extend(Skipped(rel, reason) for rel, reason in remove_stale_copies(scan.temporaries))
    taken = take_in(paths, catalog, scan.files, known, report, progress)
    old_skipped = catalog.skipped()
    kept = [Skipped(path, reason) for path, reason in old_skipped if _folder_of(path) not in area and path not in area]
    report.skipped = kept + scan.skipped + taken.skipped
    report.unchanged = count_before - len(report.removed) - len(report.updated)
    for rel in _folders_to_look_at_again(scan.skipped + taken.skipped):
        digests[rel] = b""
    with catalog.transaction():
        catalog.db.executemany("UPDATE articles SET size=?, mtime_ns=?, stored_path=nullif(?, id || '.txt') WHERE id=?", taken.touched)
        if len(kept) != len(old_skipped) or scan.skipped or taken.skipped:
            catalog.replace_skipped((s.path, s.reason) for s in report.skipped)
        _change_folders(catalog, {rel: scan.folders[rel] for rel in rescanned if rel in scan.folders}, digests, dropped)
        catalog.set_meta("updated_at", str(time.time()))


def _folder_of(rel: str) -> str:
    return rel.rpartition("/")[0]


def _folders_to_look_at_again(skipped: list[Skipped]) -> set[str]:
    return {_folder_of(s.path) for s in skipped if s.reason.startswith(LOOK_AGAIN)}


def _file_stats_in(catalog: Catalog, folders: Iterable[str]) -> dict[str, tuple[int, int, str]]:
    """id → (size, mtime_ns, path) of the articles whose file lies directly
    in one of ``folders`` (relative paths, "" for the root)."""
    found: dict[str, tuple[int, int, str]] = {}
    for folder in folders:
        if folder:
            # An id is its path without ".txt": the id index finds the folder's range.
            rows = catalog.db.execute(
                "SELECT id, size, mtime_ns, path FROM articles WHERE id >= ? AND id < ?", (folder + "/", folder + "0")
            )
            prefix = len(folder) + 1
            found.update((r[0], r[1:]) for r in rows if "/" not in r[3][prefix:])
        else:
            rows = catalog.db.execute("SELECT id, size, mtime_ns, path FROM articles WHERE instr(path, '/') = 0")
            found.update((r[0], r[1:]) for r in rows)
    return found


def _change_folders(catalog: Catalog, mtimes: dict[str, int], digests: dict[str, bytes], dropped: Iterable[str]) -> None:
    """Record the folders an update rescanned (their mtimes and digests)
    and forget those it no longer enters."""
    gone = [(rel,) for rel in dropped]
    for table in ("folders", "folder_digests"):
        catalog.db.executemany(f"DELETE FROM {table} WHERE path=?", gone)
    catalog.db.executemany("INSERT OR REPLACE INTO folders(path, mtime_ns) VALUES (?, ?)", mtimes.items())
    catalog.db.executemany("INSERT OR REPLACE INTO folder_digests(path, digest) VALUES (?, ?)", digests.items())
