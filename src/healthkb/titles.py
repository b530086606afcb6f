"""Titles that neighbours give an article (SPEC §2): reciprocal title
inference along ``<<:``/``>>:`` chains, and which nav text names an article.
Pure: used by links.py (the in-memory resolver), index/linkstate.py and
index/buildlinks.py (the catalog's), which must agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

NavLine = tuple[str, str]  # (nav text as shown, its match key)
NavLines = dict[str, tuple[NavLine | None, NavLine | None]]  # article → (prev, next) lines


def pick_nav_title(namings: Iterable[tuple[str, str]]) -> str:
    """The title neighbours give an article, from (source id, nav text) pairs
    of the nav lines that lead to it (at least one): the most common text,
    then the one used by the source whose id sorts first."""
    texts: dict[str, list] = {}  # text → [count, first source]
    for source, text in namings:
        entry = texts.setdefault(text, [0, source])
        entry[0] += 1
        entry[1] = min(entry[1], source)
    return min(texts.items(), key=lambda item: (-item[1][0], item[1][1], item[0]))[0]


def infer_claims(
    nav: NavLines,
    owners: Callable[[str], tuple[str, ...]],
    headed: set[str],
) -> dict[str, str]:
    """Reciprocal title inference, propagated along nav chains (SPEC §2):
    title key → the article that answers to it from now on.

    ``owners`` gives the articles a key names before inference (file names
    and headings).  Pivot B: if A is the only article whose ``<<:`` resolves
    to B, and B's ``>>:`` text matches no article, A answers to that text
    (mirror: ``>>:`` and ``<<:`` swapped).  Works in rounds; a round only
    revisits articles that just gained a title, because only links to them
    can have changed, so a chain of N articles costs O(N), not O(N²).  Each
    article gains at most one inferred title, and a heading is never
    overridden, so this terminates.  Contradictions (one article offered two
    titles, or one title offered to two articles, in the same round) infer
    nothing, now or later.

    Only nav lines whose key no article owns ("waiting" lines), the articles
    they resolve to and the articles resolving to those take part, so a
    caller may pass just that part of a KB's nav lines and get the same claims.
    """
    claims: dict[str, str] = {}
    # pointing[side][B] = articles whose nav on that side resolves to B.
    pointing: dict[int, dict[str, set[str]]] = {0: {}, 1: {}}
    # waiting[key] = (article, side) whose nav text has this key and no target yet;
    # keys only ever go from no owner to one, so only these links can change.
    waiting: dict[str, list[tuple[str, int]]] = {}
    for source in sorted(nav):
        for side, line in enumerate(nav[source]):
            if not line:
                continue
            key = line[1]
            targets = owners(key) if key else ()
            if len(targets) == 1 and targets[0] != source:
                pointing[side].setdefault(targets[0], set()).add(source)
            elif not targets and key:
                waiting.setdefault(key, []).append((source, side))

    settled = set(headed)  # articles whose title inference may not change
    contested: set[str] = set()  # keys offered to several articles
    pivots = set(pointing[0]) | set(pointing[1])
    for _round in range(len(nav) + 1):  # each round settles ≥ 1 article
        offers: dict[str, dict[str, str]] = {}  # article → {key: text}
        for pivot in sorted(pivots):
            texts = nav.get(pivot, (None, None))
            # side 0: sources' "<<:" name the pivot, so the pivot's ">>:" names the source.
            for side, other_line in ((0, texts[1]), (1, texts[0])):
                sources = pointing[side].get(pivot, ())
                if len(sources) != 1 or not other_line:
                    continue
                (source,) = sources
                text, key = other_line
                if key and key in waiting and key not in contested and source not in settled:
                    offers.setdefault(source, {}).setdefault(key, text)
        offered: dict[str, list[str]] = {}
        for article, keys in offers.items():
            if len(keys) > 1:
                settled.add(article)  # two different titles offered: believe neither
                continue
            offered.setdefault(next(iter(keys)), []).append(article)
        pivots = set()
        for key, articles in sorted(offered.items()):
            if len(articles) > 1:
                contested.add(key)
                continue
            (article,) = articles
            settled.add(article)
            claims[key] = article
            for source, side in waiting.pop(key):
                if source != article:
                    pointing[side].setdefault(article, set()).add(source)
            pivots.add(article)
        if not pivots:
            break
    return claims
