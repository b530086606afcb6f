"""Collecting a question's best hits: each posting read once, term at a time.

A question becomes a long OR of its words and their synonyms over title and
body (expansion.py).  Whoosh scores an OR document at a time through a tree
of union matchers, several Python calls per document per tree node: on the
16,000-article MedQuAD KB a ten-word question took ~100 ms that way, most
of a whole search.  :class:`TermAtATimeCollector` instead reads each term's
postings block by block and scores them in a flat loop.  Then, for the few
documents that can reach the page, it adds the same per-term scores up again
in Whoosh's own order (the shape of the matcher tree Whoosh built for the
query), because floating-point sums depend on their order: every score is
bit for bit the one Whoosh gives, and so is the page (tests compare them).

What it does not take apart - phrases, coordination, exclusions, anything
but a union or a boost - is read as one leaf through Whoosh's own matcher;
a query whose top is not an OR is left to Whoosh's collector.
"""

from __future__ import annotations

import heapq

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.collectors import TopCollector
from whoosh.matching import (
    ArrayUnionMatcher, FilterMatcher, ListMatcher, NullMatcher, NullMatcherClass, UnionMatcher, WrappingMatcher,
)
from whoosh.query import Or
from whoosh.scoring import BM25FScorer
from whoosh.util.numeric import byte_to_length

# Candidates for the exact sum: every document whose quick sum is within
# this share of the page's last score (the two sums differ by far less).
_MARGIN = 1e-9
_LENGTH_OF_BYTE = [byte_to_length(b) for b in range(256)]


class TermAtATimeCollector(TopCollector):
    """Whoosh's top-N collector with the term-at-a-time scoring above.

    ``norms`` caches, per segment and field, each document's length term of
    BM25F; pass the same dict to every search of one open index."""

    def __init__(self, limit: int, norms: dict) -> None:
        super().__init__(limit=limit)
        self._norms = norms

    def set_subsearcher(self, subsearcher, offset: int) -> None:
        # Where Whoosh would answer the OR with an ArrayUnionMatcher, whose
        # constructor already scores the first 2,048 articles of every part,
        # only the parts are made: they are read once, here.
        self._parts = None if self.final_fn is not None else _array_union_parts(self.q, subsearcher, self.context)
        if self._parts is None:
            super().set_subsearcher(subsearcher, offset)
        else:
            # The collector's own questions (count, block quality) must not
            # see a matcher half-read: they get an empty one.
            self.subsearcher, self.offset, self.matcher = subsearcher, offset, NullMatcher

    def collect_matches(self) -> None:
        leaves: list = []
        if self._parts is not None:
            parts, factor = self._parts
            tree = ("sum", [_shape(m, leaves, factor) for m in parts], factor)
        elif self.final_fn is None and type(self.matcher) in (UnionMatcher, WrappingMatcher, ArrayUnionMatcher):
            tree = _shape(self.matcher, leaves)
        else:
            super().collect_matches()
            return
        reader = self.subsearcher.reader()
        per_leaf = [self._leaf_scores(leaf, reader) for leaf, _boost in leaves]
        quick: dict[int, float] = {}
        get = quick.get
        for scores, (_leaf, boost) in zip(per_leaf, leaves):
            for docnum, score in scores.items():
                quick[docnum] = get(docnum, 0.0) + score * boost
        if not quick:
            return
        if len(quick) > self.limit:
            last = heapq.nlargest(self.limit, quick.values())[-1]
            cut = last - abs(last) * _MARGIN
            candidates = sorted(d for d, s in quick.items() if s >= cut)
        else:
            candidates = sorted(quick)
        self.total += len(quick) - len(candidates)  # _collect counts the rest
        for docnum in candidates:
            self._collect(self.offset + docnum, _exact(tree, docnum, per_leaf))

    def _leaf_scores(self, matcher, reader) -> dict[int, float]:
        """{docnum: score} of every posting of one leaf, as ``matcher.score()`` gives it."""
        if type(matcher) is FilterMatcher and matcher._exclude and matcher.boost == 1.0:
            # A segment with deleted articles: its postings minus those.
            scores = self._leaf_scores(matcher.child, reader)
            for docnum in matcher._ids:
                scores.pop(docnum, None)
            return scores
        scorer = getattr(matcher, "scorer", None)
        if type(matcher) is W3LeafMatcher and type(scorer) is BM25FScorer:
            norm = self._norm(reader, matcher.term()[0], scorer)
            if norm is not None:
                return _bm25_postings(matcher, scorer, norm)
        scores = {}
        while matcher.is_active():
            scores[matcher.id()] = matcher.score()
            matcher.next()
        return scores

    def _norm(self, reader, fieldname: str, scorer) -> list | None:
        """Per document of the segment: ``K1 * ((1 - B) + B * length / avgfl)``,
        the part of BM25F's denominator that depends on the document only
        (computed exactly as scoring.bm25 computes it)."""
        key = (id(reader), fieldname, scorer.B, scorer.K1, scorer.avgfl)
        if key not in self._norms:
            self._norms[key] = _norm_table(reader, fieldname, scorer)
        return self._norms[key]


def _norm_table(reader, fieldname: str, scorer) -> list | None:
    column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN) \
        if hasattr(reader, "_perdoc") else None
    if column is None or getattr(column, "_fixedlen", None) != 1:
        return None  # not the codec this was written for: score through the matcher
    raw = column._dbfile.get(column._basepos, column._count) if column._count else b""
    doccount = reader.doc_count_all()
    B, K1, avgfl = scorer.B, scorer.K1, scorer.avgfl
    # One value per length byte.  A zero byte makes doc_field_length return
    # None, and bm25 fail: such a document holds no term of the field, so
    # it is never scored.
    by_byte = [None] + [K1 * ((1 - B) + B * length / avgfl) for length in _LENGTH_OF_BYTE[1:]]
    return list(map(by_byte.__getitem__, raw)) + [None] * (doccount - len(raw))


def _bm25_postings(matcher, scorer, norm: list) -> dict[int, float]:
    """scoring.bm25 for every posting, block by block, with the same
    operations in the same order: ``idf * ((tf * (K1 + 1)) / (tf + norm))``."""
    idf, k1_plus_1 = scorer.idf, scorer.K1 + 1
    scores: dict[int, float] = {}
    while matcher.is_active():
        matcher.id()  # loads the block's ids
        matcher.weight()  # and weights
        start = matcher._i
        for docnum, tf in zip(matcher._ids[start:], matcher._weights[start:]):
            scores[docnum] = idf * ((tf * k1_plus_1) / (tf + norm[docnum]))
        matcher._next_block()
    return scores


def _shape(matcher, leaves: list, boost: float = 1.0):
    """The matcher tree as nested tuples: ("or", a, b), ("boost", child,
    factor), ("sum", children, factor) or ("leaf", index into ``leaves``);
    ``leaves`` gets (matcher, product of the boosts above it)."""
    kind = type(matcher)
    if kind is UnionMatcher:
        return ("or", _shape(matcher.a, leaves, boost), _shape(matcher.b, leaves, boost))
    if kind is WrappingMatcher:
        return ("boost", _shape(matcher.child, leaves, boost * matcher.boost), matcher.boost)
    if kind is ArrayUnionMatcher and matcher._scored and all(map(_rewindable, matcher._submatchers)):
        # Whoosh's choice for an OR on a segment under 5,000 articles: it
        # adds ``score * boost`` of each part in turn into a zeroed array.
        # Building it read the first stretch of every part: rewind them.
        factor = matcher._boost
        for part in matcher._submatchers:
            part.reset()
        return ("sum", [_shape(m, leaves, boost * factor) for m in matcher._submatchers], factor)
    leaves.append((matcher, boost))
    return ("leaf", len(leaves) - 1)


def _array_union_parts(query, searcher, context) -> tuple[list, float] | None:
    """(the parts' matchers, boost) when Whoosh's ``Or._matcher`` would pick
    an ArrayUnionMatcher for ``query`` on this segment, else None."""
    subs = getattr(query, "subqueries", ())
    if type(query) is not Or or query.matcher_type != Or.AUTO_MATCHER or len(subs) < 2:
        return None
    if context is None or context.weighting is None:
        return None  # unscored: not what this collector is for
    if len(subs) < Or.TOO_MANY_CLAUSES and (
        context.needs_current or query.scale or len(subs) == 2 or searcher.doc_count_all() > 5000
    ):
        return None  # Whoosh builds a tree of UnionMatchers
    return [sub.matcher(searcher, context) for sub in subs], query.boost


def _rewindable(matcher) -> bool:
    """Whether ``matcher.reset()`` surely goes back to its first posting."""
    kind = type(matcher)
    if kind in (FilterMatcher, WrappingMatcher):
        return _rewindable(matcher.child)
    return kind in (W3LeafMatcher, ListMatcher, NullMatcherClass)


def _exact(node, docnum: int, per_leaf: list) -> float | None:
    """The document's score added up as Whoosh's matchers add it (None: no match)."""
    kind = node[0]
    if kind == "leaf":
        return per_leaf[node[1]].get(docnum)
    if kind == "boost":
        score = _exact(node[1], docnum, per_leaf)
        return None if score is None else score * node[2]
    if kind == "sum":
        total, found = 0.0, False
        for child in node[1]:
            score = _exact(child, docnum, per_leaf)
            if score is not None:
                total, found = total + score * node[2], True
        return total if found else None
    a = _exact(node[1], docnum, per_leaf)
    b = _exact(node[2], docnum, per_leaf)
    if a is None:
        return b
    return a if b is None else a + b
