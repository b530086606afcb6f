"""Queries of plain words, built without Whoosh's query parser.

Most searches are a few plain words.  For those we build exactly the query
``MultifieldParser(["title", "body"])`` would build (a test checks they are
equal), which lets `healthkb search lumbar` skip importing and constructing
the parser: its import alone compiles some eighty regular expressions.
"""

from __future__ import annotations

import re

from whoosh.query import And, NullQuery, Or, Term

FIELDS = ("title", "body")
# Words that the parser reads as syntax when written in capitals.
OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})
_PLAIN_WORD = re.compile(r"[^\W_]+(?:[-'\u2019][^\W_]+)*")
ANY_TERM_SCALE = 0.9  # the same coordination bonus as OrGroup.factory(0.9)


def is_plain(text: str) -> bool:
    """True when ``text`` is only words the parser would read as words."""
    words = text.split()
    return bool(words) and all(_PLAIN_WORD.fullmatch(w) and w not in OPERATORS for w in words)


def plain_query(text: str, analyzer, *, any_term: bool = False, scale: float | None = ANY_TERM_SCALE):
    """The parser's query for plain-word ``text``, or None if it is not plain.

    ``scale`` is the any-term query's coordination bonus (the parser's);
    questions pass None: a plain sum of the words' scores."""
    if not is_plain(text):
        return None
    def group(queries):
        # The parser joins everything, even the pieces of a hyphenated word,
        # with its default group.
        if not any_term:
            return And(queries)
        either = Or(queries, scale=scale)
        # Whoosh's ArrayUnionMatcher (its choice for small indexes) under-
        # reports its best score, so top-N collection drops hits that should
        # rank first: use the tree of union matchers (as expansion.union).
        either.matcher_type = Or.DEFAULT_MATCHER
        return either

    parts = []
    for word in text.split():
        terms = analyzer.terms(word)
        if not terms:
            continue  # a stop word: the parser drops it too
        per_field = [Term(field, terms[0]) if len(terms) == 1 else group([Term(field, t) for t in terms]) for field in FIELDS]
        parts.append(Or(per_field))
    if not parts:
        return NullQuery
    return group(parts).normalize()
