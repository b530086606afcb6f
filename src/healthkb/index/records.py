"""Shared pieces of index updates: the update report, catalog rows for an
article, its links and its nav lines.  Used by the full build (update.py,
buildlinks.py) and the incremental update (incremental.py, linkstate.py).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from healthkb.article import Article
from healthkb.corpus import Skipped
from healthkb.files import Decoded
from healthkb.index.catalog import (
    KIND_CODES,
    ROLE_NEXT,
    ROLE_PREV,
    STATUS_CODES,
    encode_teasers,
    key_hash,
)
from healthkb.links import (
    KEY_PREFIX_LIMIT,
    MIN_TEASER_KEY,
    RELATED,
    RESOLVED,
    Link,
    nav_line,
    opening_key,
    teaser_key,
)
from healthkb.text import match_key

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(slots=True)
class UpdateReport:
    """What an update (or a full build) did: articles added, updated, removed, skipped."""

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
        "teasers": encode_teasers(article.teasers),
        "opening": opening_key(article.body)[:KEY_PREFIX_LIMIT],
        "words": article.words,
        "encoding": article.encoding,
        "warnings": json.dumps(article.warnings, ensure_ascii=False),
    }


def shard_of(article_id: str, shards: int) -> int:
    return zlib.crc32(article_id.encode("utf-8")) % shards



def link_row(link: Link, rowid_of: Callable[[str], int]) -> tuple:
    """The catalog row of one link: (kind, ordinal, keyhash, status, count,
    target), target 0 unless it resolved (an ambiguous link's candidates are
    looked up when shown: catalog.py says why)."""
    key = teaser_key(link.text) if link.kind == RELATED else match_key(link.text)
    target = rowid_of(link.targets[0]) if link.status == RESOLVED else 0
    return (KIND_CODES[link.kind], link.ordinal, key_hash(key), STATUS_CODES[link.status], link.candidate_count, target)


def nav_names(rowid: int, prev: str | None, nxt: str | None) -> list[tuple[str, int, int]]:
    """``names`` rows (key, role, art) of an article's nav lines."""
    rows = []
    for role, text in ((ROLE_PREV, prev), (ROLE_NEXT, nxt)):
        line = nav_line(text)
        if line and line[1]:
            rows.append((line[1], role, rowid))
    return rows


def opening_hashes(opening: str) -> set[int]:
    opening = opening[:KEY_PREFIX_LIMIT]
    return {key_hash(opening[:n]) for n in range(MIN_TEASER_KEY, len(opening) + 1)}
