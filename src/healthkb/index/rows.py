"""How the catalog stores an article's values (catalog.py owns the tables):
what is kept as a small code or as NULL and derived back when read, the
teasers' encoding and the key hashes that find links.  Every value goes in
through :func:`stored_article` and comes out through :func:`row_to_article`,
so nothing else needs to know the stored form.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from healthkb.article import TITLE_FROM_BODY, TITLE_FROM_FILENAME, TITLE_FROM_HEADING, TITLE_FROM_NAV
from healthkb.text import clean_line, title_from_filename

# Title sources as stored (a small integer instead of a word on every row).
SOURCE_CODES = {TITLE_FROM_HEADING: 0, TITLE_FROM_FILENAME: 1, TITLE_FROM_BODY: 2, TITLE_FROM_NAV: 3}
SOURCE_NAMES = {code: name for name, code in SOURCE_CODES.items()}
DEFAULT_ENCODING = "utf-8"

def encode_teasers(teasers: list[str] | tuple[str, ...]) -> bytes | None:
    """Teasers as one raw-deflate blob of their lines (a teaser is one line of
    its file, so it holds no newline): 4% smaller than zlib-wrapped JSON."""
    if not teasers:
        return None
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress("\n".join(teasers).encode("utf-8")) + packer.flush()


def decode_teasers(blob: bytes | None) -> tuple[str, ...]:
    if not blob:
        return ()
    return tuple(zlib.decompress(blob, -15).decode("utf-8").split("\n"))


def key_hash(key: str) -> int:
    """A match key's crc32 as a signed 32-bit number (SQLite stores that in 4
    bytes, an unsigned one above 2**31 in 6)."""
    value = zlib.crc32(key.encode("utf-8"))
    return value - (1 << 32) if value >= 1 << 31 else value


def filename_title(article_id: str) -> str:
    """The title a file name gives (article.parse_article's rule), whatever
    the article's real title source."""
    stem = clean_line(article_id.rsplit("/", 1)[-1])
    return title_from_filename(stem) or clean_line(stem) or "(untitled)"


def base_title_of(article_id: str, stored: str | None, base_source: int, title: str) -> str:
    """An article's title before inference, from its stored (maybe NULL)
    value: NULL is the file name's title for a file-name source, else the
    display title (which a title update copies into base_title first)."""
    if stored is not None:
        return stored
    return filename_title(article_id) if base_source == SOURCE_CODES[TITLE_FROM_FILENAME] else title


def stored_article(values: dict) -> dict:
    """An articles row as stored: what can be derived is NULL (see _DDL)."""
    stored = dict(values)
    article_id = stored["id"]
    if "path" in stored:
        path = stored.pop("path")
        stored["stored_path"] = None if path == f"{article_id}.txt" else path
    if stored.get("sha256"):
        stored["sha256"] = bytes.fromhex(stored["sha256"])
    for column in ("title_source", "base_source"):
        if column in stored:
            stored[column] = SOURCE_CODES[stored[column]]
    if "base_title" in stored and "base_source" in stored:
        derived = base_title_of(article_id, None, stored["base_source"], stored.get("title"))
        if stored["base_title"] == derived:
            stored["base_title"] = None
    if stored.get("encoding") == DEFAULT_ENCODING:
        stored["encoding"] = None
    if stored.get("warnings") == "[]":
        stored["warnings"] = None
    return stored


def digest_hex(digest: bytes | str | None) -> str:
    # "" (or a legacy text value) marks a file to read again: see update.DIRTY.
    return digest.hex() if isinstance(digest, bytes) else digest or ""


class ArticleRow(NamedTuple):
    """What the catalog knows of one article (no body: that is on disk).

    A named tuple, as rows are: immutable, built from a query's row in one
    call, and ~1.7 ms cheaper for every process to define than a frozen
    dataclass of 18 fields (the class is made at import, by every search).
    """

    rowid: int
    id: str
    path: str
    size: int
    mtime_ns: int
    sha256: str
    shard: int
    title: str
    title_source: str
    base_title: str
    base_source: str
    prev: str | None
    next: str | None
    teasers: tuple[str, ...]
    opening: str
    words: int
    encoding: str
    warnings: tuple[str, ...]


ARTICLE_COLUMNS = (
    "rowid, id, path, size, mtime_ns, sha256, shard, title, title_source, base_title, "
    "base_source, prev, next, teasers, opening, words, encoding, warnings"
)


def row_to_article(row: tuple) -> ArticleRow:
    values = list(row)
    article_id = values[1]
    values[5] = digest_hex(values[5])
    values[9] = base_title_of(article_id, values[9], values[10], values[7])
    values[8] = SOURCE_NAMES[values[8]]
    values[10] = SOURCE_NAMES[values[10]]
    values[13] = decode_teasers(values[13])
    values[16] = values[16] or DEFAULT_ENCODING
    if values[17]:  # warnings: rare, so json is imported only for them
        import json

        values[17] = tuple(json.loads(values[17]))
    else:
        values[17] = ()
    return ArticleRow(*values)
