"""Problem detection for ``healthkb check`` (issue 5). Pure: returns data.

Owns the problem kinds and their one-line details.  Per-article checks look
at one article's resolved links; global checks (duplicate titles, one-way
nav) consume streams of ``(id, title)`` and ``(id, links)`` so the caller can
feed them from its catalog without holding every article in memory.

Kinds are stable strings (they appear in ``check --json``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from healthkb.article import Article
from healthkb.links import (
    AMBIGUOUS,
    MIN_TEASER_KEY,
    MISSING,
    NEXT,
    PREV,
    RELATED,
    RESOLVED,
    Link,
    LinkResolver,
    is_weak_teaser,
    resolve_all,
    teaser_key,
)
from healthkb.text import match_key, shorten

MISSING_PREV = "missing_prev"
MISSING_NEXT = "missing_next"
MISSING_RELATED = "missing_related"
AMBIGUOUS_LINK = "ambiguous_link"
ONE_WAY_NAV = "one_way_nav"
SELF_LINK = "self_link"
DUPLICATE_TITLE = "duplicate_title"
WEAK_TEASER = "weak_teaser"
SKIPPED = "skipped"
ENCODING = "encoding"
EMPTY_BODY = "empty_body"
KINDS = (
    AMBIGUOUS_LINK, DUPLICATE_TITLE, EMPTY_BODY, ENCODING, MISSING_NEXT, MISSING_PREV,
    MISSING_RELATED, ONE_WAY_NAV, SELF_LINK, SKIPPED, WEAK_TEASER,
)  # fmt: skip

FALLBACK_ENCODING = "cp1252"
_TEXT_WIDTH = 60  # how much of a nav text or teaser a detail quotes
_MAX_LISTED = 5  # candidates named in one detail before "and N more"
_MARKS = {PREV: "<<:", NEXT: ">>:"}
_DIGITS = re.compile(r"(\d+)")


MASS_LINKS = 10  # this many links with the same text and answer become one problem line
_MAX_SOURCES = 20  # article ids a mass-link problem lists in --json


@dataclass(frozen=True, slots=True)
class Problem:
    """One line of `check`: a broken, ambiguous or skipped thing, and where."""

    kind: str
    id: str  # the article id (the first, for a mass-link line), or the file path for a skipped file
    detail: str
    links: int = 1  # how many links this line stands for (more than 1: the same teaser in many articles)
    sources: tuple[str, ...] = ()  # a mass-link line's first _MAX_SOURCES article ids


def describe_link(link: Link, numbered: bool = True) -> str:
    """How a detail names a link: ``">>: text"`` or ``teaser 3 "text…"``
    (``teaser "text…"`` when not ``numbered``)."""
    if link.kind in _MARKS:
        return f'"{_MARKS[link.kind]} {shorten(link.text, _TEXT_WIDTH)}"'
    number = f"{link.ordinal} " if numbered else ""
    return f'teaser {number}"{shorten(link.text, _TEXT_WIDTH)}…"'


def _id_list(ids: Sequence[str], count: int | None = None) -> str:
    """The first ids and "and 1,065 more" (``count``: how many there are in all)."""
    shown = ", ".join(ids[:_MAX_LISTED])
    more = (len(ids) if count is None else count) - min(len(ids), _MAX_LISTED)
    return f"{shown} and {more:,} more" if more > 0 else shown


def _natural(detail: str) -> list[str | int]:
    # "teaser 2" before "teaser 10"; str and int alternate, so parts compare alike.
    return [int(part) if index % 2 else part for index, part in enumerate(_DIGITS.split(detail))]


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """A total order: kind, article id, then detail with numbers compared as
    numbers, which puts ``<<:`` before ``>>:`` before teaser 1..N.
    """
    return sorted(problems, key=lambda p: (p.kind, p.id, _natural(p.detail)))


def article_problems(
    article_id: str,
    title: str,
    links: Iterable[Link],
    *,
    body_words: int,
    encoding: str,
    warnings: Iterable[str] = (),
    with_links: bool = True,
) -> list[Problem]:
    """Problems of one article, from its resolved links and a few facts
    (without those of unresolved links when ``with_links`` is false: the
    caller passes them to :func:`summarised_link_problems`)."""
    del title  # part of the record the caller has at hand; details name ids
    problems: list[Problem] = []

    def add(kind: str, detail: str) -> None:
        problems.append(Problem(kind, article_id, detail))

    if encoding == FALLBACK_ENCODING:
        add(ENCODING, "; ".join(warnings) or "not valid UTF-8; decoded as cp1252")
    if body_words == 0:
        add(EMPTY_BODY, "the article has no body text")
    for link in links:
        if with_links:
            problems += link_problems(article_id, link)
        if link.status == RESOLVED and link.targets[0] == article_id:  # an ambiguous link is reported as such
            add(SELF_LINK, f"{describe_link(link)} leads back to this article")
    return sort_problems(problems)


def _link_kind(link: Link) -> str | None:
    """The problem kind of an unresolved link (None for a resolved one)."""
    if link.status == MISSING and link.kind == RELATED and is_weak_teaser(link.text):
        return WEAK_TEASER
    if link.status == MISSING:
        return {PREV: MISSING_PREV, NEXT: MISSING_NEXT}.get(link.kind, MISSING_RELATED)
    return AMBIGUOUS_LINK if link.status == AMBIGUOUS else None


def _verdict(kind: str, link: Link) -> str:
    if kind == WEAK_TEASER:
        return (
            f"is too short to match an article "
            f"({len(teaser_key(link.text))} letters or digits; {MIN_TEASER_KEY} needed)"
        )
    if kind == AMBIGUOUS_LINK:
        return f"matches {_id_list(link.targets, link.candidate_count)}"
    return "matches no article"


def link_problems(article_id: str, link: Link) -> list[Problem]:
    """The problem of one unresolved link (none for a resolved one)."""
    kind = _link_kind(link)
    return [Problem(kind, article_id, f"{describe_link(link)} {_verdict(kind, link)}")] if kind else []


def summarised_link_problems(pairs: Iterable[tuple[str, Link]]) -> list[Problem]:
    """Problems of unresolved links, given as (article id, link): one line per
    link, except that :data:`MASS_LINKS` or more links with the same text,
    kind and answer (boilerplate teasers quoted in thousands of articles)
    become one line that counts them, so a report stays readable and bounded.
    Memory: the ids of the articles with unresolved links."""
    groups: dict[tuple, list[tuple[str, Link]]] = {}
    for article_id, link in pairs:
        kind = _link_kind(link)
        if kind:
            key = (kind, link.kind, link.text, link.targets, link.candidate_count)
            groups.setdefault(key, []).append((article_id, link))
    problems: list[Problem] = []
    for (kind, *_rest), members in groups.items():
        if len(members) < MASS_LINKS:
            problems += [p for article_id, link in members for p in link_problems(article_id, link)]
            continue
        sources = sorted(article_id for article_id, _ in members)
        link = members[0][1]
        where = f"in {len(sources):,} articles ({_id_list(sources[:3], len(sources))})"
        detail = f"{describe_link(link, numbered=False)} {where} {_verdict(kind, link)}"
        problems.append(Problem(kind, sources[0], detail, len(sources), tuple(sources[:_MAX_SOURCES])))
    return problems


def skipped_problems(skipped: Iterable[tuple[str, str]]) -> list[Problem]:
    """One ``skipped`` problem per (path, reason)."""
    return sort_problems(Problem(SKIPPED, path, reason) for path, reason in skipped)


def _duplicate_titles(titles: Iterable[tuple[str, str]]) -> list[Problem]:
    by_key: dict[str, list[tuple[str, str]]] = {}
    for article_id, title in titles:
        key = match_key(title)
        if key:
            by_key.setdefault(key, []).append((article_id, title))
    problems = []
    for group in by_key.values():
        if len(group) < 2:
            continue
        group.sort()
        for article_id, title in group:
            # Name a few others; sorting once per group keeps a huge group linear.
            named = [other for other, _ in group[: _MAX_LISTED + 1] if other != article_id][:_MAX_LISTED]
            more = len(group) - 1 - len(named)
            listed = ", ".join(named) + (f" and {more} more" if more > 0 else "")
            detail = f'title "{shorten(title, _TEXT_WIDTH)}" is also the title of {listed}'
            problems.append(Problem(DUPLICATE_TITLE, article_id, detail))
    return problems


# What global checks keep of one article's nav line: None when the line is
# absent, otherwise (text, the one target or None when missing/ambiguous).
_NavEnd = tuple[str, str | None] | None


def _nav_ends(links: Iterable[Link]) -> tuple[_NavEnd, _NavEnd]:
    ends: dict[str, _NavEnd] = {PREV: None, NEXT: None}
    for link in links:
        if link.kind in ends:
            ends[link.kind] = (link.text, link.targets[0] if link.status == RESOLVED else None)
    return ends[PREV], ends[NEXT]


def _one_way_nav(nav: dict[str, tuple[_NavEnd, _NavEnd]]) -> list[Problem]:
    """A's ``>>:`` leads to B but B's ``<<:`` does not lead to A (and the mirror)."""
    problems = []
    for article_id in sorted(nav):
        for side, kind in ((1, NEXT), (0, PREV)):
            end = nav[article_id][side]
            if end is None or end[1] is None or end[1] == article_id:
                continue  # no line, unresolved (reported elsewhere), or a self link
            text, target = end
            back_mark = _MARKS[PREV if kind == NEXT else NEXT]
            back = nav.get(target, (None, None))[1 - side]
            if back is not None and back[1] == article_id:
                continue
            if back is None:
                why = f'which has no "{back_mark}" line'
            elif back[1] is None:
                why = f'whose "{back_mark} {shorten(back[0], _TEXT_WIDTH)}" does not lead back'
            else:
                why = f'whose "{back_mark}" leads to {back[1]}'
            link = Link(kind, 0, text, RESOLVED, (target,))
            problems.append(Problem(ONE_WAY_NAV, article_id, f"{describe_link(link)} leads to {target}, {why}"))
    return problems


def global_problems(
    titles: Iterable[tuple[str, str]],
    links_by_id: Iterable[tuple[str, Iterable[Link]]],
) -> list[Problem]:
    """Duplicate titles and one-way nav, from streams of (id, title) and (id, links).

    ``titles`` are display titles (``LinkResolver.titles()`` gives them);
    ``links_by_id`` needs only each article's prev/next links, related links
    are ignored.  Memory: one small record per article with nav lines.
    """
    nav: dict[str, tuple[_NavEnd, _NavEnd]] = {}
    for article_id, links in links_by_id:
        ends = _nav_ends(links)
        if ends != (None, None):
            nav[article_id] = ends
    return sort_problems(_duplicate_titles(titles) + _one_way_nav(nav))


def kb_problems(
    articles: Iterable[Article],
    skipped: Iterable[tuple[str, str]] = (),
    resolved: tuple[LinkResolver, dict[str, list[Link]]] | None = None,
) -> list[Problem]:
    """Every problem of a small in-memory KB (tests, and KBs held in memory)."""
    articles = list(articles)
    resolver, links = resolved or resolve_all(articles)
    problems = [
        problem
        for article in articles
        for problem in article_problems(
            article.id,
            resolver.title(article.id)[0],
            links[article.id],
            body_words=article.words,
            encoding=article.encoding,
            warnings=article.warnings,
            with_links=False,
        )
    ]
    problems += summarised_link_problems((a.id, link) for a in articles for link in links[a.id])
    problems += global_problems(((i, t) for i, t, _ in resolver.titles()), links.items())
    problems += skipped_problems(skipped)
    return sort_problems(problems)
