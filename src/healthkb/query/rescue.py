"""Zero-result rescue: what search tries when a query finds nothing.

Owns the chain that runs after the all-terms query came back empty, in this
order, stopping at the first step that finds something:

1. ``any``      - any of the words instead of all of them;
2. ``spelling`` - each word the KB does not have replaced by its closest real
                  word of the KB (``spelling.suggest_query``), all words then any;
3. ``fuzzy``    - index terms within edit distance 1 (5-7 letters) or 2
                  (8+ letters) of the stems of the query's words of 5+
                  letters that are not real words (spelling.py), all words
                  then any. With one edit the first letter may be the wrong
                  one too (which the spelling step never corrects); with two
                  it must match, since a Levenshtein automaton free in its
                  first letter walks several times more of the term list;
4. ``title``    - articles whose titles start with or contain the words
                  (punctuation and spaces ignored: "heatpack" finds "Heat packs").

Every step that finds something says so in a notice. Steps 1-2 work for any
query (the spelling step keeps the query's syntax); steps 3-4 only for plain
words, since fuzzing a phrase or a ``title:`` term would change what the user
asked for. If nothing at all is found the last notice says what to try.
``--exact`` turns off the vocabulary only: the rescue still runs, and says so.

``searcher`` below is the running :class:`healthkb.query.search.Searcher`
(its index, catalog and expander); it is passed in, not imported, so the
driver depends on this step and not the other way round.

Fuzzy matching compares stems, as the index keeps them: a word of 5+
letters as typed is fuzzed, with one edit if its stem has up to 7 letters
and two from 8 (Levenshtein: a swap of two letters counts two).
Title matches have no index terms: their score is the share of the words
the title contains, plus one each for containing and starting with the
whole query (so ``--explain`` shows only that score).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from whoosh.analysis import STOP_WORDS
from whoosh.query import And, NullQuery, Term

from healthkb.index.schema import WORD_PATTERN, fold_for_index
from healthkb.query.bounds import bound_query
from healthkb.query.expansion import ANY_TERM_SCALE, SEARCH_FIELDS, BuiltQuery, index_terms, is_plain, union
from healthkb.query.question import FUNCTION_WORDS
from healthkb.query.spelling import suggest_query
from healthkb.text import match_key, shorten

FUZZY_MIN_LETTERS = 5
FUZZY_LONG_LETTERS = 8  # from here on, two edits are allowed
FUZZY_MAX_LETTERS = 30  # longer "words" are not words; their automata are costly
FUZZY_MAX_WORDS = 12
FUZZY_MAX_TERMS = 50  # per word: near terms beyond this add noise, not recall
TITLE_MIN_LETTERS = 3
TITLE_MAX_WORDS = 12
NOTHING_FOUND = "nothing matched, not even approximately; try other or fewer words, or `healthkb list` for every title"


@dataclass
class Rescue:
    """The outcome of the rescue chain."""

    step: str | None  # "any", "spelling", "fuzzy", "title"; None if nothing was found
    results: object = None  # whoosh Results or TitleResults; None if nothing was found
    query: object = NullQuery  # what found the hits (snippets highlight its terms)
    built: BuiltQuery | None = None
    notices: list[str] = field(default_factory=list)
    corrected: str | None = None  # the spelling step's query
    any_term: bool = False


def rescue_search(searcher, text: str, query, *, exact: bool, limit: int, explain: bool) -> Rescue:
    """Run the chain for ``text`` whose all-terms ``query`` found nothing."""
    said: list[str] = []  # vocabulary problems, if a build here loaded it first

    def run(built: BuiltQuery):
        said.extend(built.notices)
        if built.query is NullQuery:
            return None
        bounded = bound_query(built.query, searcher.searcher.reader()).query  # its notices were said before
        results = searcher.searcher.search(bounded, limit=limit, terms=explain)
        return None if results.is_empty() else results

    def found(step: str, results, built: BuiltQuery, notice: str, corrected: str | None = None) -> Rescue:
        return Rescue(step, results, built.query, built, [*said, notice], corrected, built.any_term)

    quoted = _quote(text)
    # 1. Any of the words.
    built = first = searcher.expander.build(searcher, text, any_term=True, exact=exact)
    if built.query != query:
        results = run(built)
        if results is not None:
            return found("any", results, built, "no article has all of the words; showing articles with any of them")
    # 2. Spelling, from the KB's real words.
    corrected = suggest_query(searcher.catalog, text, searcher.is_word)
    if corrected:
        for any_term in (False, True):
            built = searcher.expander.build(searcher, corrected, any_term=any_term, exact=exact)
            results = run(built)
            if results is not None:
                which = " (articles with any of the words)" if any_term else ""
                notice = f"nothing found for {quoted}; showing results for {_quote(corrected)}{which}"
                return found("spelling", results, built, notice, corrected)
    if is_plain(text):
        words = _words(text)
        # 3. Fuzzy matching of the longer words.
        parts = fuzzy_parts(searcher, words)
        for any_term in (False, True) if parts else ():
            fuzzy = _join(parts, any_term)
            results = run(BuiltQuery(fuzzy))
            if results is not None:
                notice = f"nothing found for {quoted}, even with spelling corrected; showing near matches of its words"
                # The synonyms were searched too (and found nothing): still say so.
                return found("fuzzy", results, BuiltQuery(fuzzy, first.added, any_term=any_term), notice)
        # 4. Titles that start with or contain the words.
        ids = title_matches(searcher.catalog, text, words)
        if ids:
            notice = f"nothing found for {quoted} in the articles' text; showing articles whose titles contain it"
            return found("title", TitleResults(ids), BuiltQuery(_terms_query(searcher, words), first.added), notice)
    return Rescue(None, notices=[*said, NOTHING_FOUND])


# --- fuzzy ---------------------------------------------------------------------


def fuzzy_parts(searcher, words: list[str]) -> list | None:
    """A query per word: a word of 5+ letters as its near index terms, a
    shorter one as it is; None if no word has a near term other than itself."""
    analyzer = searcher.schema["body"].analyzer
    reader = searcher.searcher.reader()
    parts = []
    fuzzed = False
    for word in words[:FUZZY_MAX_WORDS]:
        terms = index_terms(analyzer, word)
        if len(terms) != 1:
            continue  # a stop word, or punctuation inside the word: leave it out
        stem = terms[0]
        # A real word is never replaced, not even by its near terms.
        if FUZZY_MIN_LETTERS <= len(word) <= FUZZY_MAX_LETTERS and not searcher.is_word(word):
            # Stems are what is compared, so their length sets the distance:
            # two edits on "shingl" (from "shingles") reach "sing" and "swing".
            distance = 1 if len(stem) < FUZZY_LONG_LETTERS else 2
            near = sorted(_terms_within(reader, stem, distance, prefix=distance - 1))[:FUZZY_MAX_TERMS]
            fuzzed = fuzzed or bool(set(near) - {stem})
            choices = near or [stem]
        else:
            choices = [stem]
        parts.append(union([Term(name, term) for term in choices for name in SEARCH_FIELDS]))
    return parts if fuzzed else None


def _join(parts: list, any_term: bool):
    if len(parts) == 1:
        return parts[0]
    return union(parts, scale=ANY_TERM_SCALE) if any_term else And(parts)


def _terms_within(reader, text: str, distance: int, prefix: int) -> set[str]:
    """Index terms of title and body within ``distance`` edits of ``text``.

    Asks each segment reader: a segment finds them with a Levenshtein
    automaton, while a MultiReader (several shards) would compare every term.
    """
    found: set[str] = set()
    leaves = [leaf for leaf, _offset in reader.leaf_readers()]
    for leaf in leaves:
        for name in SEARCH_FIELDS:
            found.update(leaf.terms_within(name, text, distance, prefix=prefix))
    return found


# --- titles --------------------------------------------------------------------


class TitleHit:
    """A title match dressed as a Whoosh hit for ``Searcher._hits``."""

    def __init__(self, article_id: str, score: float) -> None:
        self.id = article_id
        self.score = score

    def __getitem__(self, key: str) -> str:
        if key != "id":
            raise KeyError(key)
        return self.id

    def matched_terms(self) -> list:
        return []  # matched on the title's text, not on index terms


class TitleResults:
    """Title matches, best first, with the parts of Whoosh's Results search uses."""

    def __init__(self, scored: list[tuple[str, float]]) -> None:
        self.scored = scored

    def is_empty(self) -> bool:
        return not self.scored

    def scored_length(self) -> int:
        return len(self.scored)

    def __len__(self) -> int:
        return len(self.scored)

    def __iter__(self):
        return (TitleHit(article_id, score) for article_id, score in self.scored)


def title_matches(catalog, text: str, words: list[str]) -> list[tuple[str, float]]:
    """(id, score) of articles whose titles start with the query or contain
    its words, best first: starts with the query, contains it whole, then by
    how many of the words it contains."""
    whole = match_key(text)
    # Very common words ("and", "what") are in most titles: they find nothing in particular.
    words = [w for w in words if w not in FUNCTION_WORDS and w not in STOP_WORDS]
    keys = list(dict.fromkeys(k for k in map(match_key, words[:TITLE_MAX_WORDS]) if len(k) >= TITLE_MIN_LETTERS))
    if whole and whole not in keys and len(whole) >= TITLE_MIN_LETTERS:
        keys.insert(0, whole)
    if not keys:
        return []
    where = " OR ".join("instr(title_key, ?) > 0" for _ in keys)
    rows = catalog.db.execute(f"SELECT id, title, title_key FROM articles WHERE title_key IS NOT NULL AND ({where})", keys).fetchall()
    word_keys = [k for k in keys if k != whole] or [whole]
    ranked = []
    for article_id, title, title_key in rows:
        contained = sum(key in title_key for key in word_keys) / len(word_keys)
        score = contained + (whole in title_key) + title_key.startswith(whole)
        ranked.append((-score, title or "", article_id))
    ranked.sort()
    return [(article_id, round(-neg, 3)) for neg, _title, article_id in ranked]


# --- helpers -------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """The query's words, folded as the index folds them."""
    return WORD_PATTERN.findall(fold_for_index(text))


def _terms_query(searcher, words: list[str]):
    """The words as plain terms: only to highlight them in snippets."""
    analyzer = searcher.schema["body"].analyzer
    terms = [term for word in words for term in index_terms(analyzer, word)]
    return union([Term("body", term) for term in terms]) if terms else NullQuery


def _quote(text: str, limit: int = 60) -> str:
    return f'"{shorten(text, limit)}"'
