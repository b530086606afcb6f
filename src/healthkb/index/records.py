"""Shared pieces of index updates: the update report, catalog rows for an
article, and storing resolved links and titles.  Used by the full build
(update.py) and the incremental update (incremental.py).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from healthkb.article import Article
from healthkb.corpus import Decoded, Skipped
from healthkb.index.catalog import KIND_CODES, STATUS_CODES, Catalog, key_hash
from healthkb.links import KEY_PREFIX_LIMIT, MIN_TEASER_KEY, ArticleKeys, LinkResolver, teaser_key
from healthkb.text import match_key, title_from_filename

Progress = Callable[[str, int, int], None]  # (phase, done, total)


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

def no_progress(phase: str, done: int, total: int) -> None:
    pass

def article_values(article: Article, decoded: Decoded, size: int, mtime_ns: int, shard: int) -> dict:
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



def link_rows(resolver: LinkResolver, rowids: dict[str, int], prev, nxt, teasers) -> list[tuple]:
    rows = []
    for link in resolver.resolve("", prev, nxt, teasers):
        key = teaser_key(link.text) if link.kind == "related" else match_key(link.text)
        kind, status, hashed = KIND_CODES[link.kind], STATUS_CODES[link.status], key_hash(key)
        if link.targets:
            rows.extend((kind, link.ordinal, hashed, status, rowids[t]) for t in link.targets)
        else:
            rows.append((kind, link.ordinal, hashed, status, None))
    return rows


def store_all_links(catalog: Catalog, resolver: LinkResolver) -> None:
    rowids = catalog.rowid_map()
    catalog.clear_links()
    cursor = catalog.db.execute("SELECT rowid, prev, next, teasers FROM articles")
    batch: list[tuple] = []
    for src, prev, nxt, teasers in cursor.fetchall():
        batch.extend((src, *row) for row in link_rows(resolver, rowids, prev, nxt, json.loads(teasers)))
        if len(batch) > 20_000:
            catalog.insert_links(batch)
            batch = []
    catalog.insert_links(batch)


def store_titles(catalog: Catalog, titles) -> None:
    catalog.db.executemany(
        "UPDATE articles SET title=?, title_source=?, title_key=? WHERE id=? AND title IS NOT ?",
        ((title, source, match_key(title), article_id, title) for article_id, title, source in titles),
    )


def nav_hashes(article_id: str, titles: list[str]) -> set[int]:
    keys = {match_key(t) for t in titles if t}
    stem_title = title_from_filename(article_id.rsplit("/", 1)[-1])
    if stem_title:
        keys.add(match_key(stem_title))
    return {key_hash(k) for k in keys if k}


def opening_hashes(opening: str) -> set[int]:
    opening = opening[:KEY_PREFIX_LIMIT]
    return {key_hash(opening[:n]) for n in range(MIN_TEASER_KEY, len(opening) + 1)}
