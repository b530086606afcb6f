"""What commands use: open a KB's index (bringing it up to date first),
look articles up, follow their links, search, check and count.

Reading commands call :func:`open_index`.  It compares a digest of the
KB's folders and article stats (:func:`healthkb.freshness.tree_state`: names,
sizes, mtimes and inodes, so in-place edits count too) with the one recorded
by the last update, and runs an incremental update only when they differ
(SPEC §3).  A reader never waits for a writer: if another process holds the
write lock it reads the last committed index instead.
"""

from __future__ import annotations

import os
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from healthkb.files import current_body, current_text
from healthkb.freshness import ENV_NO_REFRESH, background_tree_state, background_walk_running, tree_state
from healthkb.errors import HealthKBError, LockTimeoutError, StorageError
from healthkb.index.catalog import KIND_NAMES, STATUS_NAMES, ArticleRow, Catalog
from healthkb.index.store import TREE_STATE_KEY, IndexPaths, dir_size, index_paths, open_catalog_for_read
from healthkb.kb import KB

if TYPE_CHECKING:
    from healthkb.index.update import Progress, UpdateReport
    from healthkb.links import Link
from healthkb.text import match_key

# How many generation switches by other processes one search rides out
# before it gives up and treats the index as damaged.
MAX_SWITCHES = 5


@dataclass(slots=True)
class KBIndex:
    """An open, up-to-date index of one KB."""

    paths: IndexPaths
    catalog: Catalog
    notices: list[str] = field(default_factory=list)
    report: UpdateReport | None = None
    _searcher: object = None
    _generation: str | None = None  # of the index the searcher opened
    _resolver: object = None  # linkstate.CatalogResolver, made when a link needs its candidates

    @property
    def root(self):
        return self.paths.kb.root

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self.catalog.close()

    def __enter__(self) -> "KBIndex":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def take_notices(self) -> list[str]:
        """The notices not yet shown (each is returned once)."""
        taken, self.notices[:] = list(self.notices), []
        return taken

    # -- lookups -------------------------------------------------------------
    def searcher(self):
        if self._searcher is None:
            from healthkb.query.search import Searcher  # imports Whoosh

            for _attempt in range(MAX_SWITCHES):
                self._generation = self.catalog.get_meta("generation")
                try:
                    self._searcher = Searcher(self.paths, self.catalog)
                    return self._searcher
                except Exception:  # noqa: BLE001 - a damaged index is rebuilt, whatever broke
                    if not self._generation_moved():
                        break
                    # Not damage: a full rebuild in another process switched
                    # generations and removed the one we were opening.
            self._rebuild("the search index could not be opened; rebuilding it")
            self._generation = self.catalog.get_meta("generation")
            self._searcher = Searcher(self.paths, self.catalog)
        return self._searcher

    def _generation_moved(self) -> bool:
        return self.catalog.get_meta("generation") != self._generation

    def search(self, text: str, **options):
        """``Searcher.search`` that survives a damaged index: a shard file that
        opens but fails when read (truncated, overwritten) is only found out
        by reading it, so on such a failure rebuild the index and ask once more."""
        return self._with_recovery(lambda s: s.search(text, **options))

    def similar(self, row: ArticleRow, limit: int = 10):
        return self._with_recovery(lambda s: s.similar(row, limit=limit))

    def _with_recovery(self, action):
        rebuilt = False
        for _attempt in range(MAX_SWITCHES):
            searcher = self.searcher()
            try:
                return action(searcher)
            except HealthKBError:
                raise  # the user's input, not the index
            except Exception:  # noqa: BLE001 - Whoosh reports damage as many exception types
                if self._generation_moved():
                    # Not damage: another process's full rebuild switched
                    # generations and deleted files that Whoosh opens lazily
                    # (stored fields).  Read the new generation.
                    self._drop_searcher()
                elif rebuilt:
                    raise
                else:
                    self._rebuild("the search index was damaged; rebuilding it")
                    rebuilt = True
        return action(self.searcher())

    def _drop_searcher(self) -> None:
        if self._searcher is not None:
            try:
                self._searcher.close()
            except Exception:  # noqa: BLE001 - closing a broken index may fail too
                pass
            self._searcher = None

    def _rebuild(self, message: str) -> None:
        from healthkb.index.update import update_index

        self._drop_searcher()
        self._resolver = None
        self.catalog.close()
        self.report = update_index(self.paths, full=True)
        # The update's own notice is the more precise one (e.g. a damaged catalog).
        own = [n for n in self.report.notices if n not in self.paths.notices]
        self.notices.extend(n for n in (own or [message]) if n not in self.notices)
        self.catalog = Catalog(self.paths.catalog)

    def resolve(self, ref: str) -> ArticleRow:
        """The article a REF names (id, title, or a unique prefix of either)."""
        ref_clean = (ref or "").strip()
        row = self.catalog.article(ref_clean) or self.catalog.article(ref_clean.removesuffix(".txt"))
        for form in ("NFC", "NFD"):  # a file name stored decomposed, a REF typed composed, or the reverse
            if row is None and not unicodedata.is_normalized(form, ref_clean):
                row = self.catalog.article(unicodedata.normalize(form, ref_clean).removesuffix(".txt"))
        if row is None and ref_clean:
            exact = self.catalog.ids_with_title_key(match_key(ref_clean))
            if len(exact) == 1:
                row = self.catalog.article(exact[0])
        if row is None:
            from healthkb.links import resolve_ref  # not needed by search: imported when used

            row = self.catalog.article(resolve_ref(ref, self.catalog.id_titles()))
        assert row is not None
        return row

    def body(self, row: ArticleRow) -> str | None:
        """The article's current body from disk (None if the file vanished)."""
        return current_body(os.path.join(self.root, row.path))

    def raw_text(self, row: ArticleRow) -> str | None:
        return current_text(os.path.join(self.root, row.path))

    def links(self, row: ArticleRow) -> list[Link]:
        """The article's outgoing links in footer order, with their status.

        An ambiguous link lists at most links.MAX_CANDIDATES candidates;
        ``candidate_count`` says how many matched."""
        from healthkb.index.linkstate import CatalogResolver, with_candidates
        from healthkb.links import Link

        rows = self.catalog.links_of(row.rowid)
        ids = {t: name[0] for t, name in self.catalog.names_by_rowid(r[4] for r in rows if r[4]).items()}
        links = []
        for kind, ordinal, status, count, target in rows:
            name = KIND_NAMES[kind]
            if name == "related":
                text = row.teasers[ordinal - 1] if 0 < ordinal <= len(row.teasers) else ""
            else:
                text = (row.prev if name == "prev" else row.next) or ""
            found = (ids[target],) if target in ids else ()
            link = Link(name, ordinal, text, STATUS_NAMES[status], found, count)
            if link.status == "ambiguous":
                # Candidates are not stored: look them up (one resolver per
                # index, whose caches serve `check`'s thousands of repeats).
                if self._resolver is None:
                    self._resolver = CatalogResolver(self.catalog)
                link = with_candidates(self._resolver, link)
            links.append(link)
        return links

    def backlinks(self, row: ArticleRow) -> list[tuple[str, str, str]]:
        """(id, title, kind) of the articles that link to this one."""
        from healthkb.index.linkstate import backlink_hashes

        pairs = self.catalog.backlinks_of(row.rowid, backlink_hashes(self.catalog, row))
        sources = self.catalog.names_by_rowid(src for src, _ in pairs)
        found = [(*sources[src], KIND_NAMES[kind]) for src, kind in pairs if src in sources and src != row.rowid]
        return sorted(found)

    def titles(self, ids) -> dict[str, str]:
        return self.catalog.titles_by_id(ids)


def _current_state_if_stale(
    paths: IndexPaths, catalog: Catalog, folders: dict[str, bytes], listings: dict[str, tuple[bytes, bytes]]
) -> str | None:
    """The KB's tree digest when it differs from the one the index recorded, else None.

    The digest, the folder digests and listings of the same walk
    (``folders``, ``listings``) are handed to the update, which then need
    not walk the tree again.  A command that started the walk in the
    background (cli.main) takes them from that walk; the others walk here."""
    state = background_tree_state(paths.kb.root, folders, listings)
    if state is None:
        state = tree_state(paths.kb.root, folders=folders, listings=listings)
    return None if catalog.get_meta(TREE_STATE_KEY) == state else state


def refresh_wanted(refresh: bool = True) -> bool:
    """False when the caller or ``HEALTHKB_NO_REFRESH`` asks to skip the freshness check."""
    return refresh and not os.environ.get(ENV_NO_REFRESH)


def open_index(kb: KB, *, progress: Progress | None = None, refresh: bool = True) -> KBIndex:
    """Open ``kb``'s index, building or updating it first when needed.

    When the update cannot be written (a full disk, a folder that turned
    read-only) but a complete index exists, the answer comes from that index
    with one notice instead of an error."""
    paths = index_paths(kb)
    catalog = open_catalog_for_read(paths)
    state = None
    folders: dict[str, bytes] = {}
    listings: dict[str, tuple[bytes, bytes]] = {}
    if catalog is not None and not catalog.frozen and refresh_wanted(refresh):
        state = _current_state_if_stale(paths, catalog, folders, listings)
    if catalog is not None and state is None:
        return KBIndex(paths, catalog, list(dict.fromkeys(paths.notices)))
    from healthkb.index.update import update_index  # only when there is work to do

    report = None
    notices: list[str] = []
    shown_before = list(paths.notices)
    storage_failed = False
    if catalog is None:
        report = update_index(paths, progress=progress)
    else:
        catalog.close()
        try:
            report = update_index(
                paths, progress=progress, timeout=0, state_before=state, folders_before=folders, listings_before=listings
            )
        except LockTimeoutError:
            notices.append("another healthkb is updating the index; showing the last complete index")
        except StorageError as exc:
            notices.append(f"{exc.message}; showing the index as it was, without the latest changes")
            storage_failed = True
    if report is not None:
        notices = list(report.notices) + notices
    catalog = open_catalog_for_read(paths)
    if catalog is None:  # pragma: no cover - update_index always leaves a catalog
        from healthkb.errors import IndexUnavailableError

        raise IndexUnavailableError(f"the index at {paths.state} cannot be read")
    if storage_failed:
        paths.notices[:] = shown_before  # one notice: the failed update's says why
    return KBIndex(paths, catalog, list(dict.fromkeys(paths.notices + notices)))


def reindex(kb: KB, *, full: bool = False, progress: Progress | None = None, touched: list[str] | None = None) -> UpdateReport:
    """Update the index; ``touched``: relative paths of the only files the
    caller changed since the index was last current (see update_index).

    A plain update takes the walk the command started in the background
    (cli.main), if any, rather than walking the KB once more."""
    from healthkb.index.update import update_index

    paths = index_paths(kb)
    folders: dict[str, bytes] = {}
    listings: dict[str, tuple[bytes, bytes]] = {}
    state = None
    if not (full or touched):
        if background_walk_running():
            from healthkb.index.incremental import load_writer_modules

            load_writer_modules()  # while the walk runs, not after it
        state = background_tree_state(paths.kb.root, folders, listings)
    return update_index(
        paths, full=full, progress=progress, touched=touched, state_before=state, folders_before=folders, listings_before=listings
    )


class Stats(NamedTuple):
    """What `healthkb stats` reports about a KB and its index."""

    kb: str
    index_dir: str
    articles: int
    words: int
    skipped: int
    links: dict[str, int]
    index_bytes: int
    corpus_bytes: int
    updated_at: float | None
    schema_version: int
    shards: int


def stats(ix: KBIndex) -> Stats:
    from healthkb.index.catalog import SCHEMA_VERSION

    db = ix.catalog.db
    articles, words, corpus = db.execute("SELECT count(*), coalesce(sum(words),0), coalesce(sum(size),0) FROM articles").fetchone()
    updated = ix.catalog.get_meta("updated_at")
    return Stats(
        kb=str(ix.root),
        index_dir=str(ix.paths.state),
        articles=articles,
        words=words,
        skipped=len(ix.catalog.skipped()),
        links=ix.catalog.link_status_counts(),
        index_bytes=dir_size(ix.paths.state),
        corpus_bytes=corpus,
        updated_at=float(updated) if updated else None,
        schema_version=SCHEMA_VERSION,
        shards=int(ix.catalog.get_meta("shards") or 1),
    )


def all_problems(ix: KBIndex):
    """Every problem `check` reports, computed from the catalog.

    The same unresolved teaser in many articles is one line with a count
    (checks.summarised_link_problems), so the report stays bounded."""
    from healthkb.checks import (
        article_problems,
        global_problems,
        skipped_problems,
        sort_problems,
        summarised_link_problems,
    )

    problems = []
    nav_links: list[tuple[str, list[Link]]] = []
    unresolved: list[tuple[str, Link]] = []
    for row in ix.catalog.iter_articles():
        links = ix.links(row)
        problems += article_problems(
            row.id, row.title, links, body_words=row.words, encoding=row.encoding, warnings=row.warnings, with_links=False
        )
        unresolved += ((row.id, link) for link in links if link.status != "resolved")
        nav = [link for link in links if link.kind != "related"]
        if nav:
            nav_links.append((row.id, nav))
    problems += summarised_link_problems(unresolved)
    problems += global_problems(ix.catalog.id_titles(), nav_links)
    problems += skipped_problems(ix.catalog.skipped())
    return sort_problems(problems)


def updated_ago(ts: float | None) -> str:
    if ts is None:
        return "never"
    seconds = max(0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


