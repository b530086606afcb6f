"""Bounds on what one query may cost: wildcards, ranges and fuzzy terms.

Owns rewriting a parsed query so that every leaf that expands to many index
terms (``co*``, ``c?r*``, ``[a TO z]``, ``word~2``) searches a bounded set of
them, and the notices that say so ("co* matches 3,412 words; searched the
200 most common").  The driver calls :func:`bound_query` on each query just
before it runs it.

Why: Whoosh ORs every expansion into a binary tree of union matchers whose
quality checks walk the whole tree for every document, so the cost grows with
terms x documents: ``co*`` (245 terms) took 15 s at 10,000 articles and
``[a TO z]`` 31 s and 413 MB at 20,000.  Here:

* an expanding leaf examines at most :data:`SCAN_PER_PATTERN` index terms (in
  index order) and a query at most :data:`SCAN_PER_QUERY` in all;
* of those it keeps the :data:`KEEP_PER_PATTERN` most common (document
  frequency), and a query keeps :data:`KEEP_PER_QUERY` in all, shared evenly
  between its expanding leaves, and fewer when their postings would pass
  :data:`POSTINGS_PER_QUERY`;
* only the first :data:`MAX_PATTERNS` distinct patterns are searched: an AND
  of 64 two-letter prefixes took seconds even with few terms each;
* a leaf with more than :data:`FLAT_FROM` terms is matched as one flat,
  precomputed union (:class:`TermSubset`): each document scores the sum of
  the idf of the kept terms it holds (BM25 with term frequency and length
  left out), which ranks alike without the tree.  Leaves with fewer terms are
  left exactly as parsed, so everyday wildcards rank as before;
* a query that still holds more than :data:`MAX_TREE_TERMS` terms (64 words
  OR-ed, or searched as "any of the words") has the chain of ORs at its top
  matched by Whoosh's preloading union (``Or.ARRAY_MATCHER``), 3-6x faster on
  such queries.  It adds the parts' scores like the tree does, but without
  the "any of the words" coordination bonus.  Only ORs whose ancestors are all
  ORs are changed: that matcher under-reports its best score to a parent that
  prunes by it (an AND), which is why expansion.union() avoids it elsewhere.
"""

from __future__ import annotations

import heapq
import itertools
import math

from whoosh.matching import ListMatcher, NullMatcher
from whoosh.query import Every, FuzzyTerm, MultiTerm, NullQuery, Or, Prefix, TermRange

SCAN_PER_PATTERN = 2000
SCAN_PER_QUERY = 4000
KEEP_PER_PATTERN = 200
KEEP_PER_QUERY = 1000
# Documents read to match one query's kept terms (a flat union reads all of
# their postings): 450,000 for [a TO z] at 20,000 articles took most of a second.
POSTINGS_PER_QUERY = 150_000
MIN_SCAN = 50  # per leaf, however many leaves share the budget
MIN_KEEP = 5
FLAT_FROM = 16  # leaves expanding to more terms are matched as one flat union
MAX_NOTICES = 3  # more limited patterns than this get one summary notice
MAX_PATTERNS = 8  # wildcards or ranges searched per query; later ones match nothing
MAX_TREE_TERMS = 40  # more terms than this: the top ORs preload (see above)


class Bounded:
    """A query ready to run and what was left out of it.

    (Plain classes here, not dataclasses: every search process imports this
    module, and a dataclass costs about half a millisecond to create.)"""

    __slots__ = ("query", "notices")

    def __init__(self, query, notices: list[str] | None = None) -> None:
        self.query = query
        self.notices = notices or []


class _Cut:
    """One pattern that was limited: for its notice."""

    __slots__ = ("label", "found", "kept", "capped")

    def __init__(self, label: str, found: int, kept: int, capped: bool) -> None:
        self.label = label
        self.found = found  # terms examined (all of them unless `capped`)
        self.kept = kept
        self.capped = capped  # the scan stopped before the end of the expansion


def bound_query(query, reader) -> Bounded:
    """``query`` with each expanding leaf limited as the module doc says."""
    expanding = [leaf for leaf in query.leaves() if _expands(leaf)]
    if not expanding:
        return Bounded(_preload_if_large(query))
    patterns = list(dict.fromkeys(_label(leaf) for leaf in expanding))
    searched = set(patterns[:MAX_PATTERNS])
    share = sum(1 for leaf in expanding if _label(leaf) in searched)
    scan = max(MIN_SCAN, min(SCAN_PER_PATTERN, SCAN_PER_QUERY // share))
    keep = max(MIN_KEEP, min(KEEP_PER_PATTERN, KEEP_PER_QUERY // share))
    postings = POSTINGS_PER_QUERY // share
    doc_count = max(reader.doc_count_all(), 1)
    cuts: dict[str, _Cut] = {}

    def limit(leaf):
        if not _expands(leaf):
            return leaf
        if _label(leaf) not in searched:
            return NullQuery  # past the first MAX_PATTERNS: matches nothing
        fieldname = leaf.field()
        found = [btext for _name, btext in itertools.islice(leaf.expanded_terms(reader), scan + 1)]
        capped = len(found) > scan
        found = found[:scan]
        if not capped and len(found) <= min(keep, FLAT_FROM):
            return leaf  # small: Whoosh's own matcher is quick and ranks as ever
        frequency = {btext: reader.doc_frequency(fieldname, btext) for btext in found}
        kept = _within_postings(heapq.nlargest(keep, found, key=frequency.__getitem__), frequency, postings)
        if capped or len(kept) < len(found):
            label = _label(leaf)
            cut = cuts.get(label)
            if cut is None or len(found) > cut.found:
                cuts[label] = _Cut(label, len(found), len(kept), capped)
        weighted = [(btext, math.log(doc_count / (frequency[btext] + 1)) + 1) for btext in sorted(kept)]
        return TermSubset(fieldname, weighted, _label(leaf), boost=leaf.boost)

    bounded = query.accept(limit)  # fills `cuts`
    notices = _notices(list(cuts.values()))
    if len(patterns) > MAX_PATTERNS:
        notices.append(f"only the first {MAX_PATTERNS} wildcards or ranges were searched; "
                       f"{len(patterns) - MAX_PATTERNS:,} more were left out")
    return Bounded(_preload_if_large(bounded), notices)


def _within_postings(terms: list[bytes], frequency: dict[bytes, int], budget: int) -> list[bytes]:
    """The longest head of ``terms`` (most common first) whose postings fit
    ``budget``; at least one term."""
    total = 0
    for count, btext in enumerate(terms):
        total += frequency[btext]
        if total > budget:
            return terms[: max(count, 1)]
    return terms


def _preload_if_large(query):
    terms = sum(len(leaf.weighted) if isinstance(leaf, TermSubset) else 1 for leaf in query.leaves())
    return _preloaded(query) if terms > MAX_TREE_TERMS else query


def _preloaded(query):
    """``query`` with each OR that has only ORs above it preloading."""
    if type(query) is not Or:
        return query
    copied = Or([_preloaded(q) for q in query.subqueries], boost=query.boost, minmatch=query.minmatch, scale=query.scale)
    copied.matcher_type = Or.ARRAY_MATCHER
    return copied


def _expands(leaf) -> bool:
    return isinstance(leaf, MultiTerm) and not isinstance(leaf, TermSubset) and not isinstance(leaf, Every)


def _label(leaf) -> str:
    """The leaf as it was typed, without its field."""
    if isinstance(leaf, TermRange):
        start = "{" if leaf.startexcl else "["
        end = "}" if leaf.endexcl else "]"
        return f"{start}{leaf.start or ''} TO {leaf.end or ''}{end}"
    if isinstance(leaf, Prefix):
        return f"{leaf.text}*"
    if isinstance(leaf, FuzzyTerm):
        return f"{leaf.text}~{leaf.maxdist}"
    return str(getattr(leaf, "text", leaf))


def _notices(cuts: list[_Cut]) -> list[str]:
    if len(cuts) > MAX_NOTICES:
        kept = sum(c.kept for c in cuts)
        return [f"{len(cuts)} wildcards or ranges match too many words; searched the most common of each "
                f"({kept:,} words in all)"]
    notices = []
    for cut in cuts:
        if cut.capped:
            notices.append(f"{cut.label} matches more than {cut.found:,} words; searched the {cut.kept:,} "
                           f"most common of the first {cut.found:,}")
        else:
            notices.append(f"{cut.label} matches {cut.found:,} words; searched the {cut.kept:,} most common")
    return notices


class TermSubset(MultiTerm):
    """Some of the terms a wildcard, range or fuzzy term expanded to, matched
    as one flat union: a document scores the summed weights of the terms it
    holds (times the boost)."""

    def __init__(self, fieldname: str, weighted: list[tuple[bytes, float]], label: str, boost: float = 1.0):
        self.fieldname = fieldname
        self.weighted = weighted
        self.text = label  # what highlighting and __str__ show
        self.boost = boost

    def __eq__(self, other: object) -> bool:
        return (type(other) is TermSubset and self.fieldname == other.fieldname
                and self.weighted == other.weighted and self.boost == other.boost)

    def __hash__(self) -> int:
        return hash((self.fieldname, tuple(self.weighted), self.boost))

    def __repr__(self) -> str:
        return f"TermSubset({self.fieldname!r}, {self.text!r}, {len(self.weighted)} terms)"

    def __str__(self) -> str:
        return f"{self.fieldname}:{self.text}"

    def _btexts(self, ixreader):
        return [btext for btext, _weight in self.weighted]

    def estimate_size(self, ixreader) -> int:
        return sum(ixreader.doc_frequency(self.fieldname, btext) for btext, _w in self.weighted)

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        scores: dict[int, float] = {}
        for btext, weight in self.weighted:
            if (self.fieldname, btext) not in reader:
                continue  # absent from this segment
            for docnum in reader.postings(self.fieldname, btext).all_ids():
                scores[docnum] = scores.get(docnum, 0.0) + weight * self.boost
        if not scores:
            return NullMatcher()
        ids = sorted(scores)
        return _FlatMatcher(ids, [scores[i] for i in ids])


class _FlatMatcher(ListMatcher):
    """A ListMatcher whose best score is computed once (ListMatcher takes the
    max of all weights on every quality check: quadratic in the hits)."""

    def __init__(self, ids, weights, position=0, best=None):
        super().__init__(ids, weights=weights, position=position)
        self._best = max(weights) if best is None else best

    def copy(self):
        return _FlatMatcher(self._ids, self._weights, self._i, self._best)

    def block_max_weight(self):
        return self._best
