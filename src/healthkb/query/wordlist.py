"""The general English word list, kept as a small SQLite file in the user cache.

Owns answering "is this an English word?" cheaply. The words are
pyspellchecker's English frequency list (its ``en.json.gz``), folded as the
index folds them. Reading and decoding that list takes ~0.2-0.35 s, which a
search paid whenever a question held a word the KB lacks ("tabkets"). So the
list is written once into ``<user cache>/english-words.sqlite`` (one indexed
table; a lookup opens the file and reads a few pages, about a millisecond)
and read from there by every later process.

The file is checked each time it is opened: its format, the pyspellchecker
release and list it was made from, its length against SQLite's own page
count (a truncated copy), and one word every list has. A file that is
missing, stale or damaged is rebuilt in a temporary file and moved into
place (another process never sees half a file). When the cache folder cannot
be written, the list is held in memory for the process, as before.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from pathlib import Path

from healthkb.index.schema import fold_for_index

FILE_NAME = "english-words.sqlite"
FORMAT = "1"
SENTINEL = "the"  # in every English list: a file without it is not the list


def _source() -> Path:
    # find_spec locates the package without importing it (importlib.resources
    # and importlib.metadata cost ~10 ms each to import: a search's budget).
    import importlib.util

    spec = importlib.util.find_spec("spellchecker")
    if spec is None or not spec.submodule_search_locations:
        raise OSError("pyspellchecker is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "resources" / "en.json.gz"


def source_signature() -> str:
    """Which list the file must have been made from: its size and modification time
    (a new pyspellchecker release installs a new file)."""
    found = _source().stat()
    return f"en.json.gz {found.st_size} {found.st_mtime_ns}"


@functools.cache
def _signature() -> str:
    return source_signature()


def read_source_words() -> frozenset[str]:
    """pyspellchecker's English words, folded as the index folds them."""
    import gzip
    import json

    words = json.loads(gzip.decompress(_source().read_bytes()))
    return frozenset(words) | frozenset(fold_for_index(w) for w in words if not w.isascii())


def default_path() -> Path:
    from healthkb.kb import user_cache_dir

    return user_cache_dir() / FILE_NAME


def _valid(connection: sqlite3.Connection, path: Path) -> bool:
    meta = dict(connection.execute("SELECT key, value FROM meta"))
    if meta.get("format") != FORMAT or meta.get("source") != _signature():
        return False
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    if pages * page_size != path.stat().st_size:
        return False  # cut short (or grown): not the file that was written
    return connection.execute("SELECT 1 FROM words WHERE word = ?", (SENTINEL,)).fetchone() is not None


def _open_checked(path: Path) -> sqlite3.Connection | None:
    """The word file opened read-only if it is whole and current, else None."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error:
        return None
    try:
        if _valid(connection, path):
            return connection
    except (sqlite3.Error, OSError):
        pass
    connection.close()
    return None


def build(path: Path) -> None:
    """Write the word file at ``path`` (a temporary file renamed into place)."""
    import tempfile  # only when the file is (re)built: it loads shutil and random

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".english-words-", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        connection = sqlite3.connect(temporary)
        try:
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            connection.execute("CREATE TABLE words (word TEXT PRIMARY KEY) WITHOUT ROWID")
            connection.executemany("INSERT INTO words VALUES (?)", ((w,) for w in sorted(read_source_words())))
            connection.executemany(
                "INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("source", _signature())]
            )
            connection.commit()
        finally:
            connection.close()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class EnglishWords:
    """Membership in the English list, from the cached file (built on first need)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._memory: frozenset[str] | None = None

    def _open(self) -> None:
        path = self.path or default_path()
        self._connection = _open_checked(path)
        if self._connection is not None:
            return
        try:
            build(path)
            self._connection = _open_checked(path)
        except (OSError, sqlite3.Error):
            self._connection = None  # a read-only or full cache folder
        if self._connection is None:
            self._memory = read_source_words()

    def __contains__(self, word: str) -> bool:
        if self._connection is None and self._memory is None:
            self._open()
        if self._memory is not None:
            return word in self._memory
        try:
            return self._connection.execute("SELECT 1 FROM words WHERE word = ?", (word,)).fetchone() is not None
        except sqlite3.DatabaseError:
            # Damaged after the check (a page the check did not read): the
            # in-memory list answers for this process; the next one rebuilds.
            self._connection.close()
            self._connection = None
            self._memory = read_source_words()
            try:
                Path(self.path or default_path()).unlink(missing_ok=True)
            except OSError:
                pass
            return word in self._memory

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
