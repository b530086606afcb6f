"""Cross-links (SPEC §2): turn each article's footer into resolved links.

Owns: matching ``<<:``/``>>:`` nav texts against titles, teasers against body
openings, reciprocal title inference, backlinks, and resolving a REF typed on
the command line.  Pure: nothing here reads files or prints.

Scale: a :class:`LinkResolver` is built once from small per-article
:class:`ArticleKeys` (titles, nav texts, a body opening), then applied to one
article at a time, so a caller can stream teasers from its catalog.  Titles
resolve through a dict, teasers through a sorted list of opening keys and
``bisect``: near-linear, never all-pairs.

Reciprocal title inference itself is in titles.py.  The index keeps the
resolver's state in its catalog instead and resolves through lookups there,
in bounded memory (index/buildlinks.py for full builds, index/linkstate.py
for incremental updates); tests check both give what this module gives.

Decisions worth knowing:
- A link is resolved *as written*, even when it points at its own article
  (a self link); ``checks`` reports those, and :func:`backlinks` leaves them
  out because "this article links to itself" tells a reader nothing.
- A teaser whose match key is shorter than :data:`MIN_TEASER_KEY` characters
  is too weak to identify an article: it is ``missing`` (see :func:`is_weak_teaser`).
- Teasers and openings are compared on their first :data:`KEY_PREFIX_LIMIT`
  key characters, so a teaser longer than what we keep of a body can still
  match it, and the resolver's memory stays small.
- The same teaser text recurs in many footers, so a resolver remembers up to
  :data:`TEASER_CACHE_SIZE` recent teaser answers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from healthkb.article import TITLE_FROM_HEADING, TITLE_FROM_NAV, Article
from healthkb.titles import NavLine, NavLines, infer_claims, pick_nav_title
from healthkb.errors import AmbiguousRefError, BadInputError, NotFoundError
from healthkb.text import clean_line, match_key, title_from_filename

OPENING_CHARS = 160  # how much of a body's start is kept, as match_key(body[:OPENING_CHARS])
KEY_PREFIX_LIMIT = 64  # key characters compared between a teaser and an opening
MIN_TEASER_KEY = 10  # a shorter teaser key would match too many articles by chance
TEASER_CACHE_SIZE = 50_000  # teaser texts whose answer a resolver remembers
MAX_CANDIDATES = 20  # candidates an ambiguous link keeps (with the count of all of them)

PREV, NEXT, RELATED = "prev", "next", "related"
RESOLVED, AMBIGUOUS, MISSING = "resolved", "ambiguous", "missing"
KIND_ORDER = {PREV: 0, NEXT: 1, RELATED: 2}


@dataclass(frozen=True, slots=True)
class ArticleKeys:
    """What resolution needs to know of one article (a few short strings)."""

    id: str
    title: str  # the title parse_article gave (not a previously resolved one)
    title_source: str  # heading | filename | body
    prev: str | None
    next: str | None
    opening: str  # match_key(body[:OPENING_CHARS])

    @classmethod
    def from_article(cls, article: Article) -> ArticleKeys:
        return cls(
            id=article.id,
            title=article.title,
            title_source=article.title_source,
            prev=article.prev,
            next=article.next,
            opening=opening_key(article.body),
        )


@dataclass(frozen=True, slots=True)
class Link:
    """One outgoing link of an article and what it resolved to."""

    kind: str  # "prev" | "next" | "related"
    ordinal: int  # 0 for prev/next, 1..N for related (teaser order)
    text: str  # nav text / teaser text as written (sanitised)
    status: str  # "resolved" | "ambiguous" | "missing"
    targets: tuple[str, ...]  # 1 id when resolved, sorted candidates when ambiguous, () when missing
    # How many articles matched: more than len(targets) when the catalog kept
    # only the first MAX_CANDIDATES candidates of an ambiguous link.
    candidate_count: int = -1

    def __post_init__(self) -> None:
        if self.candidate_count < 0:
            object.__setattr__(self, "candidate_count", len(self.targets))

    @property
    def more(self) -> int:
        """Candidates matched but not listed in ``targets``."""
        return self.candidate_count - len(self.targets)


def opening_key(body: str) -> str:
    """The key of a body's start that teasers are matched against."""
    return match_key(body[:OPENING_CHARS])


def teaser_key(text: str) -> str:
    return match_key(text)[:KEY_PREFIX_LIMIT]


def is_weak_teaser(text: str) -> bool:
    """True when a teaser is too short (after normalising) to match anything."""
    return len(teaser_key(text)) < MIN_TEASER_KEY


def clean_text(text: str) -> str:
    """:func:`clean_line`, with a fast path for text that needs no change.

    Printable text holds no control sequence and no whitespace but the
    plain space, so it only needs stripping; resolution calls this once per
    teaser, which makes the shortcut worth its three lines.
    """
    if text.isprintable() and "  " not in text:
        return text.strip()
    return clean_line(text)


def _status(count: int) -> str:
    if not count:
        return MISSING
    return RESOLVED if count == 1 else AMBIGUOUS


def nav_line(text: str | None) -> NavLine | None:
    """(clean text, key) of a ``<<:``/``>>:`` text, or None when there is none."""
    clean = clean_text(text) if text else ""
    return (clean, match_key(clean)) if clean else None


def filename_key(article_id: str) -> str:
    stem = article_id.rsplit("/", 1)[-1]
    # match_key drops the spaces and capital that title_from_filename adds, so
    # the stem's own key is the title's key whenever the stem reads as words.
    return match_key(stem) if title_from_filename(stem) else ""


def base_keys(article_id: str, title: str, title_source: str) -> set[str]:
    """The title keys an article answers to before inference: its file name's
    and, when it has one, its heading's."""
    keys = {filename_key(article_id)}
    if title_source == TITLE_FROM_HEADING:
        keys.add(match_key(title))
    return keys - {""}


class Resolving:
    """Resolution of nav texts and teasers (SPEC §2), given two lookups that a
    subclass provides: who answers to a title key, and which openings start
    with a teaser key.  :class:`LinkResolver` keeps them in memory; the index
    keeps them in its catalog."""

    def __init__(self) -> None:
        self._teaser_cache: dict[str, tuple[str, tuple[str, ...], int]] = {}

    def title_owners(self, key: str) -> tuple[str, ...]:
        raise NotImplementedError

    def opening_matches(self, key: str) -> tuple[tuple[str, ...], int]:
        """(sorted ids whose opening key starts with ``key``, how many there are).

        The ids may be capped (the count never is)."""
        raise NotImplementedError

    def _title_targets(self, text: str) -> tuple[str, ...]:
        key = match_key(text)
        return self.title_owners(key) if key else ()

    def _teaser_targets(self, text: str) -> tuple[tuple[str, ...], int]:
        key = match_key(text)[:KEY_PREFIX_LIMIT]  # teaser_key(), inlined: this is the hot loop
        if len(key) < MIN_TEASER_KEY:
            return (), 0
        return self.opening_matches(key)

    def resolve_nav(self, kind: str, text: str | None) -> Link | None:
        """The ``prev``/``next`` link for a nav text, or None when there is none."""
        if kind not in (PREV, NEXT):
            raise ValueError(f"not a nav kind: {kind!r}")
        clean = clean_text(text) if text else ""
        if not clean:
            return None
        targets = self._title_targets(clean)
        return Link(kind, 0, clean, _status(len(targets)), targets)

    def resolve_teaser(self, ordinal: int, text: str) -> Link:
        """The ``related`` link for teaser number ``ordinal`` (1-based)."""
        # Many footers quote the same popular articles, so the same teaser
        # text comes back again and again: remember recent answers.
        cache = self._teaser_cache
        answer = cache.get(text)
        if answer is None:
            clean = clean_text(text)
            answer = (clean, *self._teaser_targets(clean))
            if len(cache) >= TEASER_CACHE_SIZE:
                cache.clear()  # crude, but bounded and never wrong
            cache[text] = answer
        clean, targets, count = answer
        return Link(RELATED, ordinal, clean, _status(count), targets, count)

    def resolve(
        self,
        article_id: str,
        prev: str | None,
        next: str | None,  # noqa: A002 - mirrors the footer's name
        teasers: Iterable[str],
    ) -> list[Link]:
        """All links of one article: prev, next (when present), then related in order.

        ``article_id`` is not needed to resolve (self links are kept as
        written); it is part of the signature so callers pass whole records.
        """
        del article_id
        links = [link for link in (self.resolve_nav(PREV, prev), self.resolve_nav(NEXT, next)) if link]
        links.extend(self.resolve_teaser(n, text) for n, text in enumerate(teasers, start=1))
        return links


class LinkResolver(Resolving):
    """Resolves links against a fixed set of articles (SPEC §2), in memory.

    Built from :class:`ArticleKeys`; afterwards it holds only title keys,
    display titles and the sorted opening keys, not the nav texts.  Used for
    small KBs held in memory (checks.kb_problems) and by tests as the
    reference; the index keeps the same state in its catalog
    (index/buildlinks.py, index/linkstate.py).
    """

    def __init__(self, articles: Iterable[ArticleKeys]) -> None:
        super().__init__()
        owners: dict[str, list[str]] = {}  # title key → article ids answering to it
        nav: NavLines = {}
        base_titles: dict[str, tuple[str, str]] = {}
        headed: set[str] = set()
        openings: list[tuple[str, str]] = []

        for keys in articles:
            if keys.id in base_titles:
                continue  # ids are unique in a KB; ignore a repeat rather than double-count
            base_titles[keys.id] = (clean_text(keys.title), keys.title_source)
            if keys.title_source == TITLE_FROM_HEADING:
                headed.add(keys.id)
            for key in base_keys(keys.id, keys.title, keys.title_source):
                owners.setdefault(key, []).append(keys.id)
            lines = (nav_line(keys.prev), nav_line(keys.next))
            if lines != (None, None):
                nav[keys.id] = lines
            opening = keys.opening[:KEY_PREFIX_LIMIT]
            if opening:
                openings.append((opening, keys.id))

        self._owners: dict[str, tuple[str, ...]] = {k: tuple(sorted(v)) for k, v in owners.items()}
        self.nav = nav
        self.claims = infer_claims(nav, lambda key: self._owners.get(key, ()), headed)
        self._owners.update((key, (article,)) for key, article in self.claims.items())
        self._titles = self._display_titles(nav, base_titles, headed)
        openings.sort()
        self._opening_keys = [key for key, _ in openings]
        self._opening_ids = [article_id for _, article_id in openings]

    # -- lookups ---------------------------------------------------------

    def title_owners(self, key: str) -> tuple[str, ...]:
        return self._owners.get(key, ())

    def opening_matches(self, key: str) -> tuple[tuple[str, ...], int]:
        keys = self._opening_keys
        start = end = bisect_left(keys, key)
        while end < len(keys) and keys[end].startswith(key):
            end += 1
        if end - start == 1:  # the common case: skip the sort
            return (self._opening_ids[start],), 1
        return tuple(sorted(self._opening_ids[start:end])), end - start

    def owned_keys(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        """(title key, owners) for every key, inferred ones included."""
        return self._owners.items()

    def title(self, article_id: str) -> tuple[str, str]:
        """(display title, source) after inference; KeyError for an unknown id."""
        return self._titles[article_id]

    def titles(self) -> Iterable[tuple[str, str, str]]:
        """(id, display title, source) for every article, sorted by id."""
        for article_id in sorted(self._titles):
            title, source = self._titles[article_id]
            yield article_id, title, source

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._titles

    def __len__(self) -> int:
        return len(self._titles)

    def _display_titles(
        self,
        nav: NavLines,
        base: dict[str, tuple[str, str]],
        headed: set[str],
    ) -> dict[str, tuple[str, str]]:
        """Heading > the nav text neighbours use for an article > filename > body."""
        named: dict[str, list[tuple[str, str]]] = {}  # target → [(source, text)]
        for source, lines in nav.items():
            for line in lines:
                if not line:
                    continue
                text, key = line
                targets = self._owners.get(key, ()) if key else ()
                if len(targets) == 1 and targets[0] != source and targets[0] not in headed:
                    named.setdefault(targets[0], []).append((source, text))
        titles = dict(base)
        for target, namings in named.items():
            titles[target] = (pick_nav_title(namings), TITLE_FROM_NAV)
        return titles


def resolve_all(articles: Iterable[Article]) -> tuple[LinkResolver, dict[str, list[Link]]]:
    """Resolve every article's links at once: a convenience for small KBs and tests."""
    articles = list(articles)
    resolver = LinkResolver(ArticleKeys.from_article(a) for a in articles)
    links = {a.id: resolver.resolve(a.id, a.prev, a.next, a.teasers) for a in articles}
    return resolver, links


def backlinks(
    links: Mapping[str, Sequence[Link]] | Iterable[tuple[str, Sequence[Link]]],
) -> dict[str, list[tuple[str, str]]]:
    """target id → [(source id, kind)] from resolved links, without self links.

    Each (source, kind) appears once per target, sorted by source id then
    kind (prev, next, related).  Accepts a mapping or a stream of pairs.
    """
    pairs = links.items() if isinstance(links, Mapping) else links
    found: dict[str, set[tuple[str, int]]] = {}
    for source, source_links in pairs:
        for link in source_links:
            if link.status == RESOLVED and link.targets[0] != source:
                found.setdefault(link.targets[0], set()).add((source, KIND_ORDER[link.kind]))
    kinds = sorted(KIND_ORDER, key=KIND_ORDER.__getitem__)
    return {
        target: [(source, kinds[order]) for source, order in sorted(entries)]
        for target, entries in found.items()
    }


_GLOB_CHARS = "*[]"
_REF_HINT = "`healthkb list` shows every id and title; `healthkb search WORDS` finds articles by content"


def resolve_ref(ref: str, entries: Sequence[tuple[str, str]]) -> str:
    """The article id a command-line REF names (SPEC §3).

    A REF is an id (a trailing ``.txt`` is tolerated), a title, or a unique
    prefix of either.  An exact id wins; then an id equal up to case or a
    title with the same match key; then a file name without its folder;
    then prefixes (case-insensitive for ids,
    by match key for titles).  A REF holding ``*``, ``[`` or ``]`` must be an
    exact id: patterns are not expanded.  Nothing is ever read from disk: a
    path such as ``../../etc/passwd`` is just a string that names no article.
    """
    wanted = clean_line(ref or "")
    if not wanted:
        raise BadInputError("empty article reference", hint="give an id or a title")
    titles = dict(entries)
    for candidate in (ref, ref.strip(), wanted, wanted.removesuffix(".txt")):
        if candidate in titles:
            return candidate

    if any(char in wanted for char in _GLOB_CHARS):
        # Not expanded, and not loosely matched either: normalising "sleep/*"
        # would leave "sleep" and quietly open some article titled "Sleep".
        raise NotFoundError(f"no article has the id '{wanted}'", hint="patterns are not expanded; " + _REF_HINT)
    folded, key = wanted.removesuffix(".txt").casefold(), match_key(wanted)
    title_keys = {article_id: match_key(title) for article_id, title in titles.items()}
    exact = {i for i in titles if i.casefold() == folded}
    exact |= {i for i, k in title_keys.items() if key and k == key}
    if not exact and "/" not in folded:
        # A file name without its folder always names its article, whatever
        # title the article took (say, one a neighbour's nav line gave it).
        exact = {i for i in titles if i.rpartition("/")[2].casefold() == folded}
    found = exact
    if not found:
        found = {i for i in titles if i.casefold().startswith(folded)}
        found |= {i for i, k in title_keys.items() if key and k.startswith(key)}
    if len(found) == 1:
        return found.pop()
    if found:
        raise AmbiguousRefError(wanted, [(i, titles[i]) for i in sorted(found)])
    raise NotFoundError(f"no article matches '{wanted}'", hint=_REF_HINT)
