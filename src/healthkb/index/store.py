"""Where an index lives and how it is opened: the state folder layout,
schema versions, generations, and recovery from a damaged index.

Layout of ``<kb>/.healthkb/`` (or its fallback in the user cache folder)::

    catalog.sqlite          fingerprints, footers, links, words (see catalog.py)
    write.lock              the writer lock (see lock.py)
    whoosh-<generation>/    shard-0/, shard-1/, …: one Whoosh index per shard

A full rebuild writes a new generation beside the old one and switches to it
in the same catalog transaction that stores the new articles, so readers see
either the old index or the new one, never half of each.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from healthkb.errors import IndexUnavailableError, storage_failure
from healthkb.index.catalog import CATALOG_NAME, SCHEMA_VERSION, Catalog
from healthkb.kb import KB, state_dir


# Catalog meta key: freshness.tree_state of the KB as the last update saw it.
TREE_STATE_KEY = "tree_state"


@dataclass(slots=True)
class IndexPaths:
    """Where a KB's index lives: its state folder, or the cache for a read-only KB."""

    kb: KB
    state: Path
    fallback: bool  # True when the KB is read-only and the index lives in the cache
    notices: list[str] = field(default_factory=list)

    @property
    def catalog(self) -> Path:
        return self.state / CATALOG_NAME

    def generation_dir(self, generation: int) -> Path:
        return self.state / f"whoosh-{generation}"

    def shard_dir(self, generation: int, shard: int) -> Path:
        return self.generation_dir(generation) / f"shard-{shard}"


class IndexDamaged(Exception):
    """A Whoosh shard of the current generation could not be opened or written."""


def index_paths(kb: KB) -> IndexPaths:
    state, fallback = state_dir(kb)
    paths = IndexPaths(kb, state, fallback)
    # Say so once: when the fallback index is made, not on every command after.
    if fallback and not paths.catalog.exists():
        paths.notices.append(
            f"the knowledge base folder is read-only; its index is kept in {state}"
        )
    return paths


def ensure_state_dir(paths: IndexPaths) -> None:
    try:
        paths.state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexUnavailableError(f"cannot create the index folder {paths.state}: {exc.strerror}") from exc


def open_catalog_for_read(paths: IndexPaths) -> Catalog | None:
    """The catalog if it exists and has our schema; None if it must be (re)built.

    When the catalog cannot be opened the usual way because its folder
    cannot be written (a full disk: SQLite's WAL needs a shared-memory file
    beside it), it is opened frozen (read-only, ``catalog.frozen``) and a
    notice says why."""
    if not paths.catalog.exists():
        return None
    try:
        catalog = Catalog(paths.catalog)
        try:
            catalog.db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.OperationalError as exc:
            catalog.close()
            failure = storage_failure(exc, paths.state)
            if failure is None:
                return None
            catalog = Catalog(paths.catalog, frozen=True)
            paths.notices.append(f"{failure.message}; answering from the index as it is, without updating it")
        version = catalog.get_meta("schema_version")
        if version != str(SCHEMA_VERSION) or catalog.get_meta("generation") is None:
            catalog.close()
            return None
        return catalog
    except sqlite3.DatabaseError:
        return None


def catalog_problem(paths: IndexPaths) -> str | None:
    """Why the catalog cannot be used as it is (for the rebuild notice)."""
    try:
        if paths.catalog.stat().st_size == 0:
            return "the index was damaged"  # cut to nothing: SQLite would call it a new database
    except FileNotFoundError:
        return None
    try:
        catalog = Catalog(paths.catalog)
        try:
            # No integrity scan here (PRAGMA quick_check reads the whole file:
            # 100 ms at 10,000 articles).  Damage deeper in the file raises
            # DatabaseError later, and update_index rebuilds then.
            version = catalog.get_meta("schema_version")
            generation = catalog.get_meta("generation")
        finally:
            catalog.close()
    except sqlite3.DatabaseError:
        return "the index was damaged"
    if version is None or generation is None:
        return "the index was incomplete" if version else None
    if version != str(SCHEMA_VERSION):
        return f"the index was made by another version of healthkb (schema {version}, now {SCHEMA_VERSION})"
    return None


def discard_catalog(paths: IndexPaths) -> None:
    """Delete the catalog and its WAL files (it is a cache: nothing is lost)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{paths.catalog}{suffix}")
        except FileNotFoundError:
            pass


def remove_stale_generations(paths: IndexPaths, keep: int | None) -> None:
    """Delete whoosh-* folders other than ``keep`` (left by old or killed builds)."""
    for entry in paths.state.glob("whoosh-*"):
        # Only what we make: whoosh-<number> real folders (never a link,
        # whose target rmtree would otherwise empty).
        if entry.name != f"whoosh-{keep}" and entry.name[7:].isdigit() and entry.is_dir() and not entry.is_symlink():
            import shutil  # here: a search that finds nothing to remove never loads it

            shutil.rmtree(entry, ignore_errors=True)


# Files earlier versions of healthkb kept in the state folder and this one
# never reads: the link resolver's pickle (its state is in the catalog now)
# and the temporaries a killed writer of it left.
_OBSOLETE = ("resolver.pickle", ".resolver-*.tmp")


def remove_stale_temporaries(paths: IndexPaths) -> None:
    """Delete temporary files a killed writer left in the state folder, and
    the files of earlier versions that nothing reads any more.

    Only called under the write lock: every writer of these files holds it,
    so none of them can be in use."""
    for pattern in _OBSOLETE:
        for entry in paths.state.glob(pattern):
            try:
                entry.unlink()
            except OSError:
                pass


def remove_partial_writes(paths: IndexPaths) -> None:
    """After a writer failed (a full disk): delete the index generation it was
    building and its temporary files, so they do not hold the space, and keep
    the generation the catalog names, which readers go on using.

    Only called under the write lock."""
    catalog = open_catalog_for_read(paths)
    if catalog is None:
        return  # no committed index to keep apart from the partial one: leave it to the next writer
    try:
        generation = catalog.get_meta("generation")
    finally:
        catalog.close()
    remove_stale_generations(paths, keep=int(generation) if generation else None)
    remove_stale_temporaries(paths)


def dir_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total
