"""The catalog: a SQLite database beside the Whoosh index that remembers every
article's fingerprint, parsed footer and resolved links, and the link
resolver's state (title keys, inferred titles, opening keys), so that an
incremental update re-resolves only what a change touches (links.py says how
resolution works; linkstate.py keeps that state up to date).

Why SQLite: readers never block a writer (WAL), a transaction is all or
nothing (a killed writer leaves the last good state), and ``show``/``links``
become point lookups instead of re-parsing the KB.  Whoosh holds only what
search needs.  Both are disposable caches rebuilt from the article files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from healthkb.article import TITLE_FROM_FILENAME
from healthkb.index.rows import (  # noqa: F401 - re-exported: the catalog's row format
    ARTICLE_COLUMNS,
    SOURCE_CODES,
    SOURCE_NAMES,
    ArticleRow,
    base_title_of,
    decode_teasers,
    digest_hex,
    encode_teasers,
    key_hash,
    row_to_article,
    stored_article,
)
from healthkb.text import match_key

# 10: derivable values stored as NULL, one row per link (issue 15); 9: link
# resolver state, capped candidates (issue 15); 8: terms of NFC text (issue 13)
SCHEMA_VERSION = 10
CATALOG_NAME = "catalog.sqlite"
PAGE_SIZE = 8192

KIND_CODES = {"prev": 0, "next": 1, "related": 2}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}
STATUS_CODES = {"resolved": 0, "ambiguous": 1, "missing": 2}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}

# Roles of a row in ``names``: a key an article answers to before inference
# (file name or heading), or the key of its ``<<:`` / ``>>:`` text.
ROLE_BASE, ROLE_PREV, ROLE_NEXT = 0, 1, 2

# Every index here serves a query named beside it; nothing else is indexed
# (each index costs about as much disk as the column it copies).
_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS folders (path TEXT PRIMARY KEY, mtime_ns INTEGER) WITHOUT ROWID;
-- Each folder the scan enters → freshness.tree_state's digest of it when the
-- catalog last took it in (b"" = look again): an update rescans only the
-- folders whose digest moved.
CREATE TABLE IF NOT EXISTS folder_digests (path TEXT PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID;
-- Values that can be derived are stored as NULL (a fifth of a row):
-- stored_path when the file is id + ".txt" (read ``path``, computed from it);
-- base_title (the title before inference) when it is the one its source
-- gives (see base_title_of); encoding when UTF-8; warnings when there are
-- none.  sha256: the 32-byte digest; title_source and base_source:
-- SOURCE_CODES.  teasers: see encode_teasers (a footer's text is most of a
-- row); opening: the key teasers are matched against (links.KEY_PREFIX_LIMIT chars).
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    stored_path TEXT,
    path TEXT GENERATED ALWAYS AS (coalesce(stored_path, id || '.txt')) VIRTUAL,
    size INTEGER, mtime_ns INTEGER, sha256 BLOB,
    shard INTEGER,
    title TEXT, title_source INTEGER, title_key TEXT,
    base_title TEXT, base_source INTEGER,
    prev TEXT, next TEXT, teasers BLOB,
    opening TEXT, words INTEGER, encoding TEXT, warnings TEXT
);
CREATE INDEX IF NOT EXISTS articles_title_key ON articles(title_key);  -- a REF typed as a title
CREATE INDEX IF NOT EXISTS articles_opening ON articles(opening);  -- teaser prefix ranges, ambiguous candidates
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT) WITHOUT ROWID;
-- Title keys: who answers to a key (ROLE_BASE), whose nav line names it.
CREATE TABLE IF NOT EXISTS names (
    key TEXT NOT NULL, role INTEGER NOT NULL, art INTEGER NOT NULL,
    PRIMARY KEY (key, role, art)
) WITHOUT ROWID;
-- Titles inferred from neighbours (links.infer_claims): key → the article owning it.
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, art INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_art ON claims(art);  -- an article's inferred titles
-- Nav lines whose key no file name or heading owns: where inference happens.
CREATE TABLE IF NOT EXISTS waiting (
    key TEXT NOT NULL, side INTEGER NOT NULL, art INTEGER NOT NULL,
    PRIMARY KEY (key, side, art)
) WITHOUT ROWID;
-- One row per link, clustered by source article (no rowid, no separate
-- index on src).  target: the article a resolved link leads to, else 0.  An
-- ambiguous link stores only how many articles match (count): its candidates
-- are looked up when shown (linkstate.CatalogResolver), from the same
-- indexes that resolved it.  keyhash: key_hash of the link's match key, so
-- that a change finds the links it touches, and a target its backlinks (a
-- resolved link's key is one of its target's title keys or a prefix of its
-- opening: linkstate.backlink_hashes), which is why no index on target is kept.
CREATE TABLE IF NOT EXISTS links (
    src INTEGER NOT NULL, kind INTEGER NOT NULL, ordinal INTEGER NOT NULL,
    keyhash INTEGER NOT NULL, status INTEGER NOT NULL, count INTEGER NOT NULL, target INTEGER NOT NULL,
    PRIMARY KEY (src, kind, ordinal)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_keyhash ON links(keyhash);  -- links a change touches, backlinks
CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY, df INTEGER) WITHOUT ROWID;
"""


class Catalog:
    """A thin, typed wrapper over the catalog database."""

    def __init__(self, path: Path, *, writer: bool = False, frozen: bool = False) -> None:
        self.path = path
        self.frozen = frozen
        if frozen:
            # Read-only without the WAL's shared-memory file, which cannot be
            # created on a full disk: for reading a committed index as it is.
            uri = Path(path).resolve().as_uri() + "?mode=ro&immutable=1"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=5000")
        if writer:
            # Rows of ~1 kB (a footer's teasers) leave less of an 8 kB page
            # unused than of a 4 kB one: ~5% of the file.  Only a new
            # database takes it, so it comes before WAL mode writes the header.
            self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            # WAL: readers keep reading the last commit while a writer works.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        self.db.close()

    # -- set-up -----------------------------------------------------------
    def create(self) -> None:
        self.db.executescript(_DDL)
        if self.get_meta("schema_version") is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))

    def get_meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None  # no meta table: an empty or foreign database
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def transaction(self) -> "_Transaction":
        return _Transaction(self.db)

    # -- articles ---------------------------------------------------------
    def file_stats(self) -> dict[str, tuple[int, int]]:
        """id → (size, mtime_ns) for every known article: what an update
        compares the scan with (hashes are fetched only for files whose stat
        moved: :meth:`sha256_of`)."""
        return {r[0]: r[1:] for r in self.db.execute("SELECT id, size, mtime_ns FROM articles")}

    def sha256_of(self, article_id: str) -> str | None:
        row = self.db.execute("SELECT sha256 FROM articles WHERE id=?", (article_id,)).fetchone()
        return digest_hex(row[0]) if row else None

    def file_of(self, article_id: str) -> tuple[str, str, int] | None:
        """(path, sha256, shard) of one article."""
        row = self.db.execute("SELECT path, sha256, shard FROM articles WHERE id=?", (article_id,)).fetchone()
        return (row[0], digest_hex(row[1]), row[2]) if row else None

    def upsert_article(self, values: dict) -> None:
        """Insert or replace one article from its column values (records.article_values)."""
        values = stored_article(values)
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        updates = ", ".join(f"{c}=excluded.{c}" for c in values if c != "id")
        self.db.execute(
            f"INSERT INTO articles({columns}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}",
            tuple(values.values()),
        )

    def delete_articles(self, ids: Iterable[str]) -> None:
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rowids = [r[0] for r in self.db.execute(f"SELECT rowid FROM articles WHERE id IN ({marks})", chunk)]
            if rowids:
                # Links *into* them are re-resolved by the caller (linkstate.py).
                rmarks = ",".join("?" * len(rowids))
                self.db.execute(f"DELETE FROM links WHERE src IN ({rmarks})", rowids)
            self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)

    def article(self, article_id: str) -> ArticleRow | None:
        row = self.db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id=?", (article_id,)).fetchone()
        return row_to_article(row) if row else None

    def articles_by_rowid(self, rowids: Iterable[int]) -> dict[int, ArticleRow]:
        found: dict[int, ArticleRow] = {}
        for chunk in _chunks(list(set(rowids)), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE rowid IN ({marks})", chunk):
                found[row[0]] = row_to_article(row)
        return found

    def names_by_rowid(self, rowids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """rowid → (id, title): the cheap lookup for naming link targets."""
        found: dict[int, tuple[str, str]] = {}
        for chunk in _chunks(list(set(rowids)), 500):
            marks = ",".join("?" * len(chunk))
            for rowid, article_id, title in self.db.execute(
                f"SELECT rowid, id, title FROM articles WHERE rowid IN ({marks})", chunk
            ):
                found[rowid] = (article_id, title)
        return found

    def titles_by_id(self, ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(set(ids)), 500):
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT id, title FROM articles WHERE id IN ({marks})", chunk))
        return found

    def articles_by_id(self, ids: Iterable[str]) -> dict[str, ArticleRow]:
        found: dict[str, ArticleRow] = {}
        for chunk in _chunks(list(set(ids)), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", chunk):
                article = row_to_article(row)
                found[article.id] = article
        return found

    def iter_articles(self, order: str = "id") -> Iterator[ArticleRow]:
        column = {"id": "id", "title": "title COLLATE NOCASE", "mtime": "mtime_ns DESC"}[order]
        for row in self.db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY {column}, id"):
            yield row_to_article(row)

    def id_titles(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT id, title FROM articles ORDER BY id").fetchall()

    def ids_with_title_key(self, key: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM articles WHERE title_key=? ORDER BY id", (key,))]

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM articles").fetchone()[0]

    def rowid_map(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, rowid FROM articles"))

    def resolution_rows(self, where: str, params: tuple = ()) -> Iterator[tuple]:
        """What link resolution reads of the articles matching ``where``:
        (rowid, id, base title, base source, prev, next, opening), decoded."""
        for rowid, article_id, base, source, title, prev, nxt, opening in self.db.execute(
            f"SELECT rowid, id, base_title, base_source, title, prev, next, opening FROM articles WHERE {where}", params
        ):
            yield rowid, article_id, base_title_of(article_id, base, source, title), SOURCE_NAMES[source], prev, nxt, opening

    def title_rows(self, where: str, params: tuple = ()) -> list[tuple]:
        """(rowid, id, base title, base source, title, title source) of the
        articles matching ``where``, decoded."""
        return [
            (rowid, article_id, base_title_of(article_id, base, source, title), SOURCE_NAMES[source], title, SOURCE_NAMES[title_source])
            for rowid, article_id, base, source, title, title_source in self.db.execute(
                f"SELECT rowid, id, base_title, base_source, title, title_source FROM articles WHERE {where}", params
            )
        ]

    def set_titles(self, titles: Iterable[tuple[str | int, str, str]]) -> None:
        """Store display titles: (id or rowid, title, source) each.  A base
        title stored as "same as the title" is copied out first."""
        by_id, by_rowid = [], []
        for ref, title, source in titles:
            values = (title, SOURCE_CODES[source], match_key(title), ref, title, SOURCE_CODES[source])
            (by_rowid if isinstance(ref, int) else by_id).append(values)
        keep_base = f"base_title = CASE WHEN base_title IS NULL AND base_source != {SOURCE_CODES[TITLE_FROM_FILENAME]} THEN title ELSE base_title END"
        for column, rows in (("id", by_id), ("rowid", by_rowid)):
            self.db.executemany(
                f"UPDATE articles SET {keep_base}, title=?, title_source=?, title_key=? "
                f"WHERE {column}=? AND (title IS NOT ? OR title_source IS NOT ?)",
                rows,
            )

    # -- folders and skipped files -----------------------------------------
    def folders(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT path, mtime_ns FROM folders"))

    def replace_folders(self, folders: dict[str, int]) -> None:
        self.db.execute("DELETE FROM folders")
        self.db.executemany("INSERT INTO folders(path, mtime_ns) VALUES (?, ?)", folders.items())

    def skipped(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall()

    def replace_skipped(self, skipped: Iterable[tuple[str, str]]) -> None:
        self.db.execute("DELETE FROM skipped")
        self.db.executemany("INSERT OR REPLACE INTO skipped(path, reason) VALUES (?, ?)", skipped)

    # -- links ------------------------------------------------------------
    # A link row: (kind, ordinal, keyhash, status, count, target); target 0 = none.
    def replace_link(self, src: int, kind: int, ordinal: int, row: tuple) -> None:
        """Replace one link of article ``src`` with ``row``."""
        self.db.execute("DELETE FROM links WHERE src=? AND kind=? AND ordinal=?", (src, kind, ordinal))
        self.insert_links([(src, *row)])

    def insert_links(self, rows: Iterable[tuple]) -> None:
        """Insert (src, kind, ordinal, keyhash, status, count, target) rows."""
        self.db.executemany(
            "INSERT INTO links(src, kind, ordinal, keyhash, status, count, target) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
        )

    def links_of(self, src: int) -> list[tuple[int, int, int, int, int | None]]:
        """(kind, ordinal, status, count, target) of one article's links, in footer order."""
        return self.db.execute(
            "SELECT kind, ordinal, status, count, NULLIF(target, 0) FROM links WHERE src=? ORDER BY kind, ordinal",
            (src,),
        ).fetchall()

    def backlinks_of(self, target: int, hashes: Iterable[int]) -> list[tuple[int, int]]:
        """(src rowid, kind) of resolved links into ``target``, among the links
        whose key hashes to one of ``hashes`` (linkstate.backlink_hashes)."""
        found: set[tuple[int, int]] = set()
        for chunk in _chunks(list(set(hashes)), 500):
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    f"SELECT src, kind FROM links WHERE keyhash IN ({marks}) AND status=0 AND target=?", (*chunk, target)
                )
            )
        return sorted(found)

    def links_with_keyhashes(self, hashes: Iterable[int]) -> set[tuple[int, int, int]]:
        """(src, kind, ordinal) of the links whose key hashes to one of ``hashes``."""
        found: set[tuple[int, int, int]] = set()
        for chunk in _chunks(list(set(hashes)), 500):
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT src, kind, ordinal FROM links WHERE keyhash IN ({marks})", chunk))
        return found

    def link_status_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) FROM links GROUP BY status")
        return {STATUS_NAMES[s]: n for s, n in rows}

    # -- spelling vocabulary ----------------------------------------------
    def add_words(self, counts: dict[str, int]) -> None:
        self.db.executemany(
            "INSERT INTO words(word, df) VALUES (?, ?) ON CONFLICT(word) DO UPDATE SET df=df+excluded.df",
            counts.items(),
        )

    def clear_words(self) -> None:
        self.db.execute("DELETE FROM words")

    def word_df(self, word: str) -> int:
        row = self.db.execute("SELECT df FROM words WHERE word=?", (word,)).fetchone()
        return row[0] if row else 0

    def words_starting(self, prefix: str, min_len: int, max_len: int) -> list[tuple[str, int]]:
        upper = prefix + "\U0010ffff"
        return self.db.execute(
            "SELECT word, df FROM words WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ?",
            (prefix, upper, min_len, max_len),
        ).fetchall()


class _Transaction:
    """``with catalog.transaction():`` — BEGIN IMMEDIATE … COMMIT, or ROLLBACK."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
