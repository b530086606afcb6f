"""Snippets: a line or two of an article's body around the matched terms,
as (text, highlighted) segments that the renderer turns bold or leaves plain.

Whoosh's highlighter tokenizes every hit's whole body into Token objects; we
scan the folded body once with the index's own word pattern and stem cache,
which gives the same matches (the same analyzer decides) several times faster.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from healthkb.index.schema import folded_words
from healthkb.text import shorten

SNIPPET_CHARS = 170
LEAD_CHARS = 40  # context shown before the first match of a fragment


def _texts(pairs, fields) -> set[str]:
    return {t.decode("utf-8") if isinstance(t, bytes) else t for fieldname, t in pairs if fieldname in fields}


def query_terms(query, fields=("body", "title")) -> set[str]:
    """The index terms a query names (wildcards and fuzzy terms not expanded)."""
    return _texts(query.iter_all_terms(phrases=True), fields)


def snippet_terms(query, reader, fields=("body", "title"), limit: int = 2000) -> set[str]:
    """The words to highlight: the query's own terms plus what its wildcards,
    prefixes and fuzzy terms expand to in the index (``herni*`` → herniat).

    Walks the leaves itself: Whoosh's ``Query.existing_terms`` reuses its
    ``fieldname`` argument as a loop variable and so skips whole fields.
    """
    found = query_terms(query, fields)
    for leaf in query.leaves():
        if leaf.field() not in fields:
            continue
        try:
            found |= _texts(itertools.islice(leaf.expanded_terms(reader, phrases=True), limit), fields)
        except Exception:  # noqa: BLE001 - highlighting is a nicety; never fail a search over it
            pass
    return found


def _matches(analyzer, text: str, terms: set[str]) -> Iterator[tuple[int, int, str]]:
    # Stemming only rewrites endings, so a word can only stem to a query term
    # that starts with the same letter: skip the stemmer for all the others.
    initials = {term[:1] for term in terms}
    for start, end, word in folded_words(text):
        if word[:1] not in initials:
            continue
        term = analyzer.term_of(word)
        if term in terms:
            yield start, end, term


def _shown_matches(matches: Iterator[tuple[int, int, str]], terms: set[str], width: int) -> list:
    """The matches up to the end of the last fragment :func:`make_snippet`
    can show, in order; the rest of a long body is never scanned.  Its
    fragments end at most ``width`` characters after the first match or,
    when there is one, after the first match of another term beyond the
    first fragment (``later``); with a single term there is no such match."""
    found: list = []
    first = later = None
    for match in matches:
        if first is None:
            first = match
        elif later is None and match[2] != first[2] and match[0] > first[0] + width - LEAD_CHARS:
            later = match
        elif match[0] > (later or first)[0] + width and (later is not None or len(terms) == 1):
            break
        found.append(match)
    return found


def _window(text: str, start: int, width: int) -> tuple[int, int]:
    """[begin, end) of about ``width`` characters from ``start``, on word edges."""
    begin = max(0, start)
    if begin <= LEAD_CHARS:
        begin = 0  # so close to the start that a cut would hide more than it saves
    if begin:
        space = text.rfind(" ", 0, begin + 1)
        begin = space + 1 if space >= 0 else 0
    end = min(len(text), begin + width)
    if end < len(text):
        space = text.rfind(" ", begin, end)
        end = space if space > begin else end
    return begin, end


def make_snippet(
    analyzer, body: str, query, width: int = SNIPPET_CHARS, terms: set[str] | None = None
) -> list[tuple[str, bool]]:
    """Up to two fragments of ``body`` that hold the query's terms (or ``terms``,
    see :func:`snippet_terms`)."""
    text = " ".join(body.split())
    if terms is None:
        terms = query_terms(query)
    found = _shown_matches(_matches(analyzer, text, terms), terms, width) if terms else []
    if not found:
        return [(shorten(text, width), False)]
    first = found[0]
    # A second fragment only when it shows a term the first does not.
    later = next((m for m in found if m[2] != first[2] and m[0] > first[0] + width - LEAD_CHARS), None)
    size = width // 2 if later else width
    windows = [_window(text, first[0] - LEAD_CHARS // (2 if later else 1), size)]
    if later:
        begin, end = _window(text, later[0] - LEAD_CHARS // 2, size)
        if begin < windows[0][1]:
            windows = [(windows[0][0], max(end, windows[0][1]))]
        else:
            windows.append((begin, end))
    segments: list[tuple[str, bool]] = []
    for number, (begin, end) in enumerate(windows):
        if begin > 0:
            segments.append(("…" if number == 0 else " … ", False))
        position = begin
        for start, stop, _term in found:
            if start < begin or stop > end:
                continue
            if start > position:
                segments.append((text[position:start], False))
            segments.append((text[start:stop], True))
            position = stop
        if position < end:
            segments.append((text[position:end], False))
    if windows[-1][1] < len(text):
        segments.append(("…", False))
    return segments
