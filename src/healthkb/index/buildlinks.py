"""Titles and links of a full build, worked out from the catalog in bounded
memory.

The full build first writes every article's row (footer, base title, opening
key); this module then stores the resolver's state (``names``, ``waiting``,
``claims``: see catalog.py), settles display titles and resolves every link
with lookups in those tables and the indexed ``opening`` column, a few
thousand rows at a time.  Nothing per article is held in memory: an
in-memory :class:`~healthkb.links.LinkResolver` of 100,000 articles took
~175 MB, the largest part of the main process of a build.

The answers are those of ``LinkResolver`` (links.py says how resolution
works; linkstate.py keeps the same state up to date after a change, and
tests/test_linkstate.py checks both agree on random KBs).
"""

from __future__ import annotations

from collections.abc import Callable

from healthkb.article import TITLE_FROM_HEADING, TITLE_FROM_NAV
from healthkb.index.catalog import ROLE_BASE, ROLE_NEXT, ROLE_PREV, Catalog, decode_teasers
from healthkb.index.linkstate import CatalogResolver, infer_from_catalog
from healthkb.index.records import link_row, nav_names
from healthkb.links import base_keys, clean_text
from healthkb.titles import pick_nav_title

ROW_BATCH = 5_000  # articles per chunk of title work
LINK_BATCH = 20_000  # rows buffered before an insert: a few MB at most
# SQLite page cache while links resolve (KiB): lookups hop around the names
# table and the opening index; at 100,000 articles SQLite's default 2 MB
# cost 58 CPU-s of resolution, 32 MB 49 s.
LINK_CACHE_KIB = 32 * 1024


def store_names(catalog: Catalog) -> None:
    """Fill ``names``, ``waiting`` and ``claims`` from the articles rows."""
    db = catalog.db
    for table in ("links", "names", "claims", "waiting"):
        db.execute(f"DELETE FROM {table}")
    names: list[tuple[str, int, int]] = []
    for rowid, article_id, base_title, base_source, prev, nxt, _opening in catalog.resolution_rows("1"):
        names.extend((key, ROLE_BASE, rowid) for key in base_keys(article_id, base_title, base_source))
        names.extend(nav_names(rowid, prev, nxt))
        if len(names) > LINK_BATCH:
            db.executemany("INSERT OR IGNORE INTO names(key, role, art) VALUES (?, ?, ?)", names)
            names = []
    db.executemany("INSERT OR IGNORE INTO names(key, role, art) VALUES (?, ?, ?)", names)
    del names
    # A nav line waits when no article answers to its key by file name or heading.
    db.execute(
        "INSERT OR IGNORE INTO waiting(key, side, art) SELECT key, role - ?, art FROM names AS n"
        " WHERE role != ? AND NOT EXISTS (SELECT 1 FROM names AS b WHERE b.key = n.key AND b.role = ?)",
        (ROLE_PREV, ROLE_BASE, ROLE_BASE),
    )
    db.executemany("INSERT INTO claims(key, art) VALUES (?, ?)", infer_from_catalog(catalog).items())


def settle_titles(catalog: Catalog, differs) -> list[tuple[str, str]]:
    """Store every article's display title (heading > the nav text
    neighbours use for it > file name > body) and return (id, title) of those
    whose title ``differs(base title, display title)`` from the one their
    document was indexed with."""
    db = catalog.db
    # Keys with exactly one owner (by name, heading or inferred claim): a nav
    # line with such a key names that article.
    db.execute("DROP TABLE IF EXISTS temp.single_owner")
    db.execute(
        "CREATE TEMP TABLE single_owner AS SELECT key, min(art) AS art FROM"
        " (SELECT key, art FROM names WHERE role = ? UNION SELECT key, art FROM claims)"
        " GROUP BY key HAVING count(*) = 1",
        (ROLE_BASE,),
    )
    db.execute("CREATE INDEX temp.single_owner_art ON single_owner(art)")
    retitled: list[tuple[str, str]] = []
    last = db.execute("SELECT max(rowid) FROM articles").fetchone()[0] or 0
    for low in range(0, last + 1, ROW_BATCH):
        high = low + ROW_BATCH
        namings: dict[int, list[tuple[str, str]]] = {}
        for target, source_id, role, prev, nxt in db.execute(
            "SELECT s.art, a.id, n.role, a.prev, a.next FROM single_owner s"
            " JOIN names n ON n.key = s.key AND n.role IN (?, ?) AND n.art != s.art"
            " JOIN articles a ON a.rowid = n.art WHERE s.art >= ? AND s.art < ?",
            (ROLE_PREV, ROLE_NEXT, low, high),
        ):
            namings.setdefault(target, []).append((source_id, clean_text(prev if role == ROLE_PREV else nxt)))
        updates = []
        for rowid, article_id, base_title, base_source, title, title_source in catalog.title_rows(
            "rowid >= ? AND rowid < ?", (low, high)
        ):
            shown, source = clean_text(base_title), base_source
            if base_source != TITLE_FROM_HEADING and rowid in namings:
                shown, source = pick_nav_title(namings[rowid]), TITLE_FROM_NAV
            if (shown, source) != (title, title_source):
                updates.append((rowid, shown, source))
            if shown != base_title and differs(base_title, shown):
                retitled.append((article_id, shown))
        catalog.set_titles(updates)
    db.execute("DROP TABLE temp.single_owner")
    return retitled


def _same(rowid: int) -> int:
    return rowid


def store_links(catalog: Catalog, progress: Callable[[int], None]) -> None:
    """Resolve and store every article's links (after :func:`store_names`);
    ``progress`` hears how many articles are done."""
    catalog.db.execute(f"PRAGMA cache_size=-{LINK_CACHE_KIB}")
    resolver = CatalogResolver(catalog, target="rowid")
    batch: list[tuple] = []
    rows = catalog.db.cursor().execute("SELECT rowid, prev, next, teasers FROM articles")
    for done, (src, prev, nxt, teasers) in enumerate(rows, 1):
        if done % 500 == 0:
            progress(done)
        batch.extend((src, *link_row(link, _same)) for link in resolver.resolve("", prev, nxt, decode_teasers(teasers)))
        if len(batch) > LINK_BATCH:
            catalog.insert_links(batch)
            batch = []
    catalog.insert_links(batch)
