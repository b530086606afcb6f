"""Links after an incremental change, in O(change): the resolver's state lives
in the catalog (``names``, ``claims``, ``waiting`` and the indexed ``opening``
column), so adding, removing or editing an article updates the keys it owns or
names, re-runs title inference only where it can happen, and re-resolves only
the links whose key a change touches.  The result is the one a full build
gives (tests/test_linkstate.py checks this on random KBs and changes).

Nothing here is read back from a file other than the catalog: no pickle, no
code-running format (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from healthkb.index.catalog import (
    KIND_CODES,
    ROLE_BASE,
    ROLE_NEXT,
    ROLE_PREV,
    SOURCE_NAMES,
    STATUS_CODES,
    ArticleRow,
    Catalog,
    decode_teasers,
    key_hash,
)
from healthkb.index.records import link_row, nav_names, opening_hashes
from healthkb.article import TITLE_FROM_HEADING, TITLE_FROM_NAV
from healthkb.links import AMBIGUOUS, MAX_CANDIDATES, NEXT, PREV, RELATED, Link, Resolving, base_keys, clean_text, nav_line
from healthkb.titles import NavLines, infer_claims, pick_nav_title

_UPPER = "\U0010ffff"  # sorts after every character a match key holds


OWNER_CACHE_SIZE = 50_000  # title keys whose owners a resolver remembers (a full build asks for all)


class CatalogResolver(Resolving):
    """Resolves links with lookups in the catalog (same answers as LinkResolver,
    ambiguous candidates capped at MAX_CANDIDATES).  Targets are article ids,
    or with ``target="rowid"`` catalog rowids (what link rows store, so a full
    build holds no id → rowid map); either way ordered by article id."""

    def __init__(self, catalog: Catalog, target: str = "id") -> None:
        super().__init__()
        if target not in ("id", "rowid"):
            raise ValueError(f"target must be 'id' or 'rowid', not {target!r}")
        self.db = catalog.db
        self._column = target
        self._owners: dict[str, tuple] = {}

    def title_owners(self, key: str) -> tuple:
        found = self._owners.get(key)
        if found is None:
            rows = self.db.execute(
                f"SELECT a.{self._column} FROM articles a WHERE a.rowid IN"
                " (SELECT art FROM names WHERE key=? AND role=? UNION SELECT art FROM claims WHERE key=?) ORDER BY a.id",
                (key, ROLE_BASE, key),
            )
            found = tuple(r[0] for r in rows)
            if len(self._owners) >= OWNER_CACHE_SIZE:
                self._owners.clear()  # crude, but bounded and never wrong
            self._owners[key] = found
        return found

    def opening_matches(self, key: str) -> tuple[tuple, int]:
        bounds = (key, key + _UPPER)
        found = self.db.execute(
            f"SELECT {self._column} FROM articles WHERE opening >= ? AND opening < ? ORDER BY id LIMIT ?",
            (*bounds, MAX_CANDIDATES),
        ).fetchall()
        if len(found) < MAX_CANDIDATES:
            return tuple(r[0] for r in found), len(found)
        count = self.db.execute("SELECT count(*) FROM articles WHERE opening >= ? AND opening < ?", bounds).fetchone()[0]
        return tuple(r[0] for r in found), count


def backlink_hashes(catalog: Catalog, row: ArticleRow) -> set[int]:
    """Key hashes of every link that can resolve to ``row``: a nav link's key
    is one of the keys the article answers to (its own or inferred), a
    teaser's a prefix of its opening."""
    keys = base_keys(row.id, row.base_title, row.base_source)
    keys |= {r[0] for r in catalog.db.execute("SELECT key FROM claims WHERE art=?", (row.rowid,))}
    return opening_hashes(row.opening) | {key_hash(key) for key in keys}


def with_candidates(resolver: Resolving, link: Link) -> Link:
    """An ambiguous link as stored (a count) with its first MAX_CANDIDATES
    candidates by id, looked up the way it was resolved."""
    if link.status != AMBIGUOUS:
        return link
    if link.kind == RELATED:
        found = resolver.resolve_teaser(link.ordinal, link.text).targets
    else:
        found = resolver.resolve_nav(link.kind, link.text).targets
    return Link(link.kind, link.ordinal, link.text, link.status, tuple(found[:MAX_CANDIDATES]), link.candidate_count)


@dataclass(frozen=True, slots=True)
class Before:
    """What the catalog knew of a changed or removed article before the change."""

    rowid: int
    id: str
    base_title: str
    base_source: str
    prev: str | None
    next: str | None
    opening: str
    title: str
    shard: int


def snapshot(catalog: Catalog, ids) -> dict[str, Before]:
    found = {}
    for article_id in ids:
        for rowid, _id, base_title, base_source, prev, nxt, opening in catalog.resolution_rows("id=?", (article_id,)):
            title, shard = catalog.db.execute("SELECT title, shard FROM articles WHERE rowid=?", (rowid,)).fetchone()
            found[article_id] = Before(rowid, article_id, base_title, base_source, prev, nxt, opening, title, shard)
    return found


@dataclass(slots=True)
class LinkUpdate:
    """What an update changed in titles and links beyond the changed articles."""

    titles: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → display title, source
    retitled: list[str] = field(default_factory=list)  # unchanged articles whose display title changed
    link_summary: dict[str, tuple[int, int]] = field(default_factory=dict)  # changed id → (resolved, total)
    revived: int = 0  # links of other articles that were missing and now resolve


def _nav_keys(prev: str | None, nxt: str | None) -> set[str]:
    return {key for key, _role, _art in nav_names(0, prev, nxt)}


def update_links(catalog: Catalog, before: dict[str, Before], changed: list[str], removed: list[str]) -> LinkUpdate:
    """Bring names, claims, titles and links up to date after the articles rows
    of ``changed`` were written and those of ``removed`` deleted (inside the
    caller's transaction)."""
    db = catalog.db
    now = {row[1]: row for article_id in changed for row in catalog.resolution_rows("id=?", (article_id,))}
    base_changed: set[str] = set()  # keys whose base owners may have changed
    touched: set[str] = set()  # keys whose waiting lines may have changed
    hashes: set[int] = set()
    for old in before.values():
        old_base = base_keys(old.id, old.base_title, old.base_source)
        old_nav = nav_names(old.rowid, old.prev, old.next)
        db.executemany("DELETE FROM names WHERE key=? AND role=? AND art=?", [(k, ROLE_BASE, old.rowid) for k in old_base])
        db.executemany("DELETE FROM names WHERE key=? AND role=? AND art=?", old_nav)
        db.executemany("DELETE FROM waiting WHERE key=? AND side=? AND art=?", [(k, r - ROLE_PREV, a) for k, r, a in old_nav])
        base_changed |= old_base
        touched |= {key for key, _r, _a in old_nav}
        hashes |= opening_hashes(old.opening or "")
    for rowid, article_id, base_title, base_source, prev, nxt, opening in now.values():
        new_base = base_keys(article_id, base_title, base_source)
        db.executemany("INSERT OR IGNORE INTO names(key, role, art) VALUES (?, ?, ?)", [(k, ROLE_BASE, rowid) for k in new_base])
        new_nav = nav_names(rowid, prev, nxt)
        db.executemany("INSERT OR IGNORE INTO names(key, role, art) VALUES (?, ?, ?)", new_nav)
        base_changed |= new_base
        touched |= {key for key, _r, _a in new_nav}
        hashes |= opening_hashes(opening or "")
    touched |= base_changed
    for key in touched:
        _refresh_waiting(db, key)

    old_claims = dict(db.execute("SELECT key, art FROM claims"))
    new_claims = infer_from_catalog(catalog)
    moved = {k for k in old_claims.keys() | new_claims.keys() if old_claims.get(k) != new_claims.get(k)}
    for key in moved:
        db.execute("DELETE FROM claims WHERE key=?", (key,))
        if key in new_claims:
            db.execute("INSERT INTO claims(key, art) VALUES (?, ?)", (key, new_claims[key]))
    owners_changed = base_changed | moved
    hashes |= {key_hash(k) for k in owners_changed}

    # Display titles that can change: the changed articles', every article
    # owning (before or after) a key whose owners changed, and the articles
    # that the changed articles' nav lines name (before or after).
    removed_rowids = {before[i].rowid for i in removed if i in before}
    targets = {row[0] for row in now.values()}
    targets |= {old_claims[k] for k in moved if k in old_claims} | {new_claims[k] for k in moved if k in new_claims}
    nav_named = set()
    for old in before.values():
        nav_named |= _nav_keys(old.prev, old.next)
    for row in now.values():
        nav_named |= _nav_keys(row[4], row[5])
    for key in owners_changed | nav_named:
        targets |= _owner_rowids(db, key)
    changed_rowids = {row[0] for row in now.values()}
    targets -= removed_rowids - changed_rowids  # SQLite may give a removed rowid to an added article
    update = LinkUpdate()
    for rowid in sorted(targets):
        article_id, title, source, old_title = _display_title(catalog, rowid)
        if (title, source) != old_title:
            catalog.set_titles([(rowid, title, source)])
            if rowid not in changed_rowids:
                update.retitled.append(article_id)
        if rowid in changed_rowids:
            update.titles[article_id] = (title, source)
    update.retitled.sort()
    _reresolve(catalog, now, hashes, removed_rowids, update)
    return update


def _owner_rowids(db, key: str) -> set[int]:
    rows = db.execute(
        "SELECT art FROM names WHERE key=? AND role=? UNION SELECT art FROM claims WHERE key=?", (key, ROLE_BASE, key)
    )
    return {r[0] for r in rows}


def _refresh_waiting(db, key: str) -> None:
    """A key's nav lines wait (take part in inference) when no article owns
    the key by its file name or heading."""
    db.execute("DELETE FROM waiting WHERE key=?", (key,))
    if db.execute("SELECT 1 FROM names WHERE key=? AND role=? LIMIT 1", (key, ROLE_BASE)).fetchone():
        return
    db.execute(
        "INSERT INTO waiting(key, side, art) SELECT key, role - ?, art FROM names WHERE key=? AND role IN (?, ?)",
        (ROLE_PREV, key, ROLE_PREV, ROLE_NEXT),
    )


def infer_from_catalog(catalog: Catalog) -> dict[str, int]:
    """Title inference over the part of the KB where it can happen: articles
    with a waiting nav line, and the articles whose nav lines lead to those
    (links.infer_claims explains why that part is enough).  Cost: the size of
    that part, which is empty when every nav line names an existing title."""
    db = catalog.db
    waiters = {r[0] for r in db.execute("SELECT DISTINCT art FROM waiting")}
    if not waiters:
        return {}
    region = set(waiters)
    # Sources: articles whose nav key is a base key of a waiter.
    for art in waiters:
        _rowid, article_id, base_title, base_source, *_rest = next(catalog.resolution_rows("rowid=?", (art,)))
        for key in base_keys(article_id, base_title, base_source):
            region |= {r[0] for r in db.execute("SELECT art FROM names WHERE key=? AND role IN (?, ?)", (key, ROLE_PREV, ROLE_NEXT))}
    nav: NavLines = {}
    headed: set[str] = set()
    rowid_of: dict[str, int] = {}
    for art in region:
        _rowid, article_id, _base_title, base_source, prev, nxt, _opening = next(catalog.resolution_rows("rowid=?", (art,)))
        rowid_of[article_id] = art
        if base_source == TITLE_FROM_HEADING:
            headed.add(article_id)
        lines = (nav_line(prev), nav_line(nxt))
        if lines != (None, None):
            nav[article_id] = lines
    cache: dict[str, tuple[str, ...]] = {}

    def owners(key: str) -> tuple[str, ...]:
        if key not in cache:
            rows = db.execute(
                "SELECT a.id FROM names n JOIN articles a ON a.rowid = n.art WHERE n.key=? AND n.role=?", (key, ROLE_BASE)
            )
            cache[key] = tuple(sorted(r[0] for r in rows))
        return cache[key]

    claims = infer_claims(nav, owners, headed)
    return {key: rowid_of[article_id] for key, article_id in claims.items()}


def _display_title(catalog: Catalog, rowid: int) -> tuple[str, str, str, tuple[str, str]]:
    """(id, display title, source, (stored title, source)) of one article:
    heading > the nav text neighbours use for it > file name > body."""
    db = catalog.db
    _rowid, article_id, base_title, base_source, *_rest = next(catalog.resolution_rows("rowid=?", (rowid,)))
    title, title_source = db.execute("SELECT title, title_source FROM articles WHERE rowid=?", (rowid,)).fetchone()
    stored = (title, SOURCE_NAMES[title_source])
    if base_source == TITLE_FROM_HEADING:
        return article_id, clean_text(base_title), base_source, stored
    keys = base_keys(article_id, base_title, base_source)
    keys |= {r[0] for r in db.execute("SELECT key FROM claims WHERE art=?", (rowid,))}
    namings = []
    for key in keys:
        if _owner_rowids(db, key) != {rowid}:
            continue
        for source, role in db.execute(
            "SELECT art, role FROM names WHERE key=? AND role IN (?, ?) AND art != ?", (key, ROLE_PREV, ROLE_NEXT, rowid)
        ).fetchall():
            source_id, prev, nxt = db.execute("SELECT id, prev, next FROM articles WHERE rowid=?", (source,)).fetchone()
            namings.append((source_id, clean_text(prev if role == ROLE_PREV else nxt)))
    if namings:
        return article_id, pick_nav_title(namings), TITLE_FROM_NAV, stored
    return article_id, clean_text(base_title), base_source, stored


def _reresolve(catalog: Catalog, now: dict, hashes: set[int], removed_rowids: set[int], update: LinkUpdate) -> None:
    """Re-resolve every link of the changed articles, and the links elsewhere
    whose key hashes to a key or opening prefix the change touched."""
    db = catalog.db
    resolver = CatalogResolver(catalog)
    rowid_cache: dict[str, int] = {}

    def rowid_of(article_id: str) -> int:
        if article_id not in rowid_cache:
            rowid_cache[article_id] = db.execute("SELECT rowid FROM articles WHERE id=?", (article_id,)).fetchone()[0]
        return rowid_cache[article_id]

    for rowid, article_id, _bt, _bs, prev, nxt, _o in now.values():
        db.execute("DELETE FROM links WHERE src=?", (rowid,))
        teasers = decode_teasers(db.execute("SELECT teasers FROM articles WHERE rowid=?", (rowid,)).fetchone()[0])
        links = resolver.resolve(article_id, prev, nxt, teasers)
        catalog.insert_links((rowid, *link_row(link, rowid_of)) for link in links)
        resolved = sum(1 for link in links if link.status == "resolved")
        update.link_summary[article_id] = (resolved, len(links))
    changed_rowids = {row[0] for row in now.values()}
    affected = sorted(
        link for link in catalog.links_with_keyhashes(hashes) if link[0] not in changed_rowids | removed_rowids
    )
    sources: dict[int, tuple] = {}
    missing, resolved = STATUS_CODES["missing"], STATUS_CODES["resolved"]
    for src, kind, ordinal in affected:
        if src not in sources:
            sources[src] = db.execute("SELECT prev, next, teasers FROM articles WHERE rowid=?", (src,)).fetchone()
        prev, nxt, blob = sources[src]
        old_status = db.execute(
            "SELECT status FROM links WHERE src=? AND kind=? AND ordinal=? LIMIT 1", (src, kind, ordinal)
        ).fetchone()[0]
        if kind == KIND_CODES[PREV]:
            link = resolver.resolve_nav(PREV, prev)
        elif kind == KIND_CODES[NEXT]:
            link = resolver.resolve_nav(NEXT, nxt)
        else:
            link = resolver.resolve_teaser(ordinal, decode_teasers(blob)[ordinal - 1])
        catalog.replace_link(src, kind, ordinal, link_row(link, rowid_of))
        if old_status == missing and STATUS_CODES[link.status] == resolved:
            update.revived += 1
