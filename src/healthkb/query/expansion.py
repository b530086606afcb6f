"""Health-language query expansion: the vocabulary's alternatives as Whoosh queries.

Owns turning a user's query plus :meth:`healthkb.synonyms.Vocabulary.expand`
into one Whoosh query, and the per-index :class:`QueryExpander` that loads
the vocabulary (built-in plus the KB's own ``.healthkb/synonyms.txt``) on
first use and reports its problems once.

Rules (search and tests rely on them):

* Only plain-word queries are expanded. A query with Whoosh syntax (quotes,
  ``field:``, parentheses, wildcards, ``^`` boosts, ``~``, a word starting
  with ``'``, or an upper-case operator AND/OR/NOT/ANDNOT/ANDMAYBE/TO) is
  taken exactly as written: its author is being precise, and rewriting part
  of a parsed syntax tree could change what the operators mean.
* Expansion works per span, so meaning is kept: ``high blood pressure diet``
  becomes ``((high AND blood AND pressure) OR hypertension^0.6 OR ...) AND
  diet``. The user's own words keep weight 1 and every added alternative
  gets :data:`ALTERNATIVE_BOOST`, so, all else equal, an article in the
  user's words ranks above one that only uses a synonym.
* Alternatives go through the index's own analyzer (stemming, folding, stop
  words), so they match what was indexed; a multi-word alternative is a
  phrase. Like ``MultifieldParser`` every part searches title and body (the
  title's weight is in the index). An alternative whose index terms equal
  something already searched ("kidney stones" vs "kidney stone") is dropped
  and not reported, and so is a phrase that leaves a single index term
  ("can't sleep" is "sleep" to the index). Words inside a matched phrase
  get their spelling variants only (see :func:`expanded_query`).
* Cost stays bounded: at most :data:`MAX_ADDED` alternatives per query
  (the vocabulary bounds them per span too); an alternative absent from the
  index is reported but builds no matcher; an all-words query in which some
  span can match nothing is run unexpanded (it finds nothing either way).
* A query without any vocabulary term yields exactly the parser's query, so
  plain searches are unchanged. ``exact=True`` (``--exact``) skips all this.
* The vocabulary is loaded on the first plain query that is not exact, a
  few ms (``scripts/bench.py`` measures it); a cheaper test of whether a
  query could match it at all costs more than that (a token set of the
  file: ~5 ms) and would pass most queries, whose everyday words occur in
  multi-word terms. Its problems are returned as notices the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from whoosh.query import And, NullQuery, Or, Phrase, Term

from healthkb.index.schema import WORD_PATTERN, fold_for_index
from healthkb.query.plainquery import ANY_TERM_SCALE, OPERATORS
from healthkb.query.question import content_words
from healthkb.query.spelling import edit_distance

if TYPE_CHECKING:
    from healthkb.synonyms import Expansion, Vocabulary

SEARCH_FIELDS = ("title", "body")
# Added terms count a little over half of the user's own: enough for an
# article that only says "hypertension" to be found and ranked well, while an
# article in the user's own words still comes first, all else equal.
ALTERNATIVE_BOOST = 0.6
MAX_PROBLEM_NOTICES = 5
MAX_ADDED = 40  # alternatives added to one query, phrases' inner variants included
MIN_VARIANT_LETTERS = 5  # shorter words inside a phrase get no spelling variants

_SYNTAX = re.compile(r"[\"():*?^~\[\]{}]|(?:^|\s)'")


def union(subqueries, **options) -> Or:
    """``Or`` that always uses Whoosh's tree of union matchers.

    For indexes under 5,000 documents Whoosh otherwise picks, for an Or of
    three or more parts, an ArrayUnionMatcher, whose ``max_quality`` is the
    largest of its parts' although its scores are their sum: top-N collection
    then skips documents that should rank first (seen here: "heat stroke
    symptoms" lost the heatstroke article with --limit 10, not with 100).

    Nested plain Ors are flattened into this one: a sum of sums is the same
    sum, and Whoosh estimates every part's size again at each level of
    nesting when it builds matchers (half the time of a 50-word query).
    """
    query = Or(list(_flat(subqueries)), **options)
    query.matcher_type = Or.DEFAULT_MATCHER
    return query


def _flat(queries):
    for query in queries:
        if type(query) is Or and query.boost == 1.0 and not query.scale and not query.minmatch:
            yield from _flat(query.subqueries)
        else:
            yield query


def is_plain(text: str) -> bool:
    """True for a query of bare words (no Whoosh syntax at all)."""
    return not _SYNTAX.search(text) and OPERATORS.isdisjoint(text.split())


@dataclass
class BuiltQuery:
    """A query ready to run, with what expansion added to it."""

    query: object  # a whoosh.query.Query
    added: list[str] = field(default_factory=list)  # vocabulary terms searched too
    notices: list[str] = field(default_factory=list)  # vocabulary problems (first use only)
    any_term: bool = False


class QueryExpander:
    """Builds queries for one index; loads the vocabulary on first need."""

    def __init__(self, kb_state_dir: Path | str) -> None:
        self.kb_state_dir = kb_state_dir
        self._vocabulary: Vocabulary | None = None
        self._memo: dict = {}

    def vocabulary(self) -> tuple[Vocabulary, list[str]]:
        """The vocabulary, and its problems as notices the first time only."""
        if self._vocabulary is not None:
            return self._vocabulary, []
        from healthkb.synonyms import load_vocabulary, user_vocabulary_paths

        self._vocabulary = load_vocabulary(user_vocabulary_paths(self.kb_state_dir))
        return self._vocabulary, problem_notices(self._vocabulary.problems)

    def build(self, searcher, text: str, *, any_term: bool = False, exact: bool = False,
              question: bool = False, keep: set[str] | None = None) -> BuiltQuery:
        """The query for ``text`` (all words, or any with ``any_term``), expanded
        unless ``exact`` or the query uses Whoosh syntax.

        ``searcher`` is a :class:`healthkb.query.search.Searcher`: its
        ``parse`` (the unexpanded query) and its schema. The all-words build
        of a text starts a memo that its any-word build (the rescue's first
        step) reuses: the expansion and the alternatives' queries.

        A ``question`` is searched as the sum of its content words' scores
        (question.py): any of them, no coordination bonus, function words
        left out; the vocabulary still sees every word, so phrasal entries
        ("water on the knee") match. ``keep``, if given, is the question's
        words to search (its rarest; the vocabulary still sees all)."""
        scale = None if question else ANY_TERM_SCALE
        any_term = any_term or question

        def parse(words: str):
            if question:
                words = " ".join(w for w in content_words(words.split()) if keep is None or w in keep)
            return searcher.parse(words, any_term=any_term, scale=scale)

        if exact or not is_plain(text):
            return BuiltQuery(parse(text), any_term=any_term)
        vocabulary, notices = self.vocabulary()
        if not (any_term and self._memo.get("text") == text):
            self._memo = {"text": text, "expansion": vocabulary.expand(text.split()), "alternatives": {}}
        expansion = self._memo["expansion"]
        if not expansion.spans:
            return BuiltQuery(parse(text), notices=notices, any_term=any_term)
        query, added = expanded_query(
            parse, searcher.schema, expansion, vocabulary, any_term=any_term,
            reader=searcher.searcher.reader(), cache=self._memo["alternatives"], scale=scale,
        )
        return BuiltQuery(query, added, notices, any_term)


def expanded_query(parse, schema, expansion: Expansion, vocabulary: Vocabulary | None = None, *,
                   any_term: bool = False, reader=None, cache: dict | None = None,
                   scale: float | None = ANY_TERM_SCALE):
    """(query, added terms): each expanded span ORed with its alternatives,
    the parts joined like the parser joins words (AND, or OR for any-term).

    ``parse`` turns some of the user's words into the unexpanded query. With
    a ``vocabulary``, the words inside a matched phrase also get their
    spelling variants ("dietary fibre" matches its group as a whole, and
    "fibre" inside it still finds "fiber"); only variants, since the other
    synonyms of a word inside a phrase may not fit it ("fever" in "hay fever"
    is not "pyrexia"). With a ``reader`` (of the index to search),
    alternatives absent from it are reported as searched but cost nothing.
    ``cache`` keeps the alternatives' queries for the next call."""
    cache = {} if cache is None else cache
    words = expansion.words
    analyzer = schema["body"].analyzer
    # Index terms already searched: each span's own words, then each added
    # alternative, so nothing is searched twice under two spellings.
    seen = {tuple(index_terms(analyzer, " ".join(span.words))) for span in expansion.spans}
    added: list[str] = []

    def alternatives_of(texts) -> list:
        found = []
        for text in texts:
            terms = tuple(index_terms(analyzer, text))
            if len(terms) < 2 and len(text.split()) > 1:
                # A phrase that is one index term once its common words go
                # ("can't sleep" -> sleep, "the runs" -> run) would match the
                # plain word everywhere: not what the phrase means.
                continue
            if terms and terms not in seen and len(added) < MAX_ADDED:
                seen.add(terms)
                if text not in cache:
                    cache[text] = alternative_query(schema, text, reader=reader)
                found.append(cache[text])
                added.append(text)
        return found

    def either(own, alternatives):
        choices = [query for query in (own, *alternatives) if query is not NullQuery]
        return union(choices) if len(choices) > 1 else choices[0] if choices else NullQuery

    def join(parts):
        parts = [part for part in parts if part is not NullQuery]
        if len(parts) < 2:
            return parts[0] if parts else NullQuery
        return union(parts, scale=scale) if any_term else And(parts)

    parts = []
    position = 0
    doomed = False  # some span of an all-words query can match nothing
    for span in expansion.spans:
        if doomed:  # only the added terms are still wanted (for the report)
            alternatives_of(alt.text for alt in span.alternatives)
            continue
        if span.start > position:
            parts.append(parse(" ".join(words[position : span.start])))
        own = parse(" ".join(span.words))
        inner = []
        if vocabulary is not None and len(span.words) > 1 and own is not NullQuery:
            inner = [alternatives_of(spelling_variants(vocabulary, word)) for word in span.words]
            if any(inner):
                own = join(either(parse(word), extra) for word, extra in zip(span.words, inner))
        alternatives = alternatives_of(alt.text for alt in span.alternatives)
        parts.append(either(own, alternatives))
        if not (any_term or doomed or reader is None):
            extra = [query for query in (*alternatives, *(q for qs in inner for q in qs)) if query is not NullQuery]
            doomed = not extra and not _in_index(reader, analyzer, " ".join(span.words))
        position = span.end
    if position < len(words) and not doomed:
        parts.append(parse(" ".join(words[position:])))
    if doomed:
        # All words are required and these have no form in the index: the
        # unexpanded query finds the same nothing without the alternatives'
        # matchers (a 50-word query's expansion would double its time).
        query = parse(" ".join(words))
    else:
        query = join(parts)
    return query, (added if query is not NullQuery else [])


def _in_index(reader, analyzer, text: str) -> bool:
    """Whether every term of ``text`` occurs in the title or body of some article."""
    return all(any((name, term) in reader for name in SEARCH_FIELDS) for term in index_terms(analyzer, text))


def spelling_variants(vocabulary: Vocabulary, word: str) -> list[str]:
    """Single-word synonyms of ``word`` that are another spelling of it
    (within two edits: tumour/tumor, fibre/fiber, oesophagus/esophagus)."""
    folded = fold_for_index(word)
    if len(folded) < MIN_VARIANT_LETTERS:
        return []
    found = []
    for span in vocabulary.expand([word]).spans:
        for alternative in span.alternatives:
            other = fold_for_index(alternative.text)
            if " " not in other and edit_distance(folded, other, 2) <= 2:
                found.append(alternative.text)
    return found


def alternative_query(schema, text: str, boost: float = ALTERNATIVE_BOOST, reader=None):
    """``text`` in title or body, as a term or (several words) a phrase.

    With a ``reader``, a field where some of the terms never occur is left
    out (NullQuery if that is every field): most alternatives are absent
    from a given KB, and each would still cost matchers on every search."""
    per_field = []
    for fieldname in SEARCH_FIELDS:
        terms = index_terms(schema[fieldname].analyzer, text)
        if reader is not None and not all((fieldname, term) in reader for term in terms):
            continue
        # The boost goes on each leaf: Whoosh drops the boost of an Or that
        # is left with a single part.
        if len(terms) == 1:
            per_field.append(Term(fieldname, terms[0], boost=boost))
        elif terms:
            per_field.append(Phrase(fieldname, terms, boost=boost))
    if not per_field:
        return NullQuery
    return union(per_field) if len(per_field) > 1 else per_field[0]


def index_terms(analyzer, text: str) -> list[str]:
    """The terms the index holds for ``text`` (stemmed, folded, no stop words)."""
    terms = getattr(analyzer, "terms", None)
    if terms is not None:
        return terms(text)
    return [token.text for token in analyzer(text)]


def problem_notices(problems) -> list[str]:
    """Vocabulary problems as notices, a few in full and then a count."""
    shown = [f"vocabulary: {problem}" for problem in problems[:MAX_PROBLEM_NOTICES]]
    if len(problems) > MAX_PROBLEM_NOTICES:
        shown.append(f"vocabulary: {len(problems) - MAX_PROBLEM_NOTICES} more problems not shown")
    return shown


def unless_searched(suggestion: str | None, text: str, added: list[str]) -> str | None:
    """``suggestion`` ("did you mean") unless each word it changes in ``text``
    was searched anyway as an added term ("apnoea" → "apnea" after expansion
    already searched "sleep apnea")."""
    if not suggestion or not added:
        return suggestion
    searched = {word for term in added for word in _folded_words(term)}
    changed = [new for old, new in zip(text.split(), suggestion.split()) if old != new]
    if changed and all(set(_folded_words(word)) <= searched for word in changed):
        return None
    return suggestion


def _folded_words(text: str) -> list[str]:
    return WORD_PATTERN.findall(fold_for_index(text))
