"""Snippets: a line or two of an article's body around the matched terms,
as (text, highlighted) segments that the renderer turns bold or leaves plain.
"""

from __future__ import annotations

from whoosh import highlight

from healthkb.text import shorten

SNIPPET_CHARS = 170
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use marks, stripped from the text first


class _MarkFormatter(highlight.Formatter):
    between = " … "

    def format_token(self, text, token, replace=False):
        return f"{_OPEN}{highlight.get_text(text, token, replace)}{_CLOSE}"


def query_terms(query, fields=("body", "title")) -> set[str]:
    terms = set()
    for fieldname, text in query.iter_all_terms(phrases=True):
        if fieldname in fields:
            terms.add(text.decode("utf-8") if isinstance(text, bytes) else text)
    return terms


def make_snippet(analyzer, body: str, query, width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """Up to two fragments of ``body`` that hold the query's terms."""
    text = " ".join(body.replace(_OPEN, "").replace(_CLOSE, "").split())
    terms = query_terms(query)
    marked = ""
    if terms:
        fragmenter = highlight.ContextFragmenter(maxchars=width, surround=width // 3)
        marked = highlight.highlight(text, terms, analyzer, fragmenter, _MarkFormatter(), top=2)
    if not marked:
        return [(shorten(text, width), False)]
    return _segments(marked)


def _segments(marked: str) -> list[tuple[str, bool]]:
    segments: list[tuple[str, bool]] = []
    rest = marked
    while rest:
        start = rest.find(_OPEN)
        if start < 0:
            segments.append((rest, False))
            break
        if start:
            segments.append((rest[:start], False))
        end = rest.find(_CLOSE, start)
        end = len(rest) if end < 0 else end
        segments.append((rest[start + 1 : end], True))
        rest = rest[end + 1 :]
    return segments
