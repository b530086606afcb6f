"""Running the built query: which articles come first, and how many there are.

Decides the order of hits beyond the index's BM25F score:

* a question's best hits (:data:`RERANK_DEPTH`) are re-ordered by how much
  of their title the question searched (:func:`rerank_by_title`): its
  words, their synonyms and the words naming its intent (question.py), so
  "What are the treatments for shingles?" comes first when asked how to
  treat shingles, and the article titled by the subject alone comes before
  those that only mention it. (A title bonus added inside the query, tried
  first, let intent words outweigh the subject: measured worse.) Then
  sections of one series give way a little to other sources
  (:func:`spread_series`), so one document's ten sections do not fill the
  page;
* a keyword query gets a bonus for its words side by side, as typed
  (:func:`with_phrase_bonus`): "high blood pressure" in the text outranks
  "high" in one place and "blood" in another; it ranks articles with all
  of its words first; when fewer
  than a page of them exist, articles with some of the words follow them
  (:func:`all_then_any`), so one all-words hit never hides the rest;
* the count: exact when a cheap estimate says it is small, else the
  estimate ("about N"), so a query with many hits is never scored twice.

Under all of this is the index's BM25F score, with the length
normalisation of :func:`weighting` (:data:`LENGTH_NORMALISATION`).
"""

from __future__ import annotations

import re

from whoosh.query import AndMaybe, NullQuery, Phrase
from whoosh.scoring import BM25F

from healthkb.query.expansion import union
from healthkb.query.question import content_words, intents_of
from healthkb.text import match_key

_TITLE_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
TITLE_WEIGHT = 1.0  # a title made only of searched words doubles the score
RERANK_DEPTH = 50  # how many of a question's best hits the title rule re-orders
# Each earlier hit of the same series multiplies a hit's score by this. Host
# crowding, as web search does it: MedQuAD answers one document in up to 30
# sections, all titled by its subject, and without it they fill the page
# ahead of other sources' articles on the same subject. A soft factor, not a
# cap: a series that is far ahead stays ahead. 0.8 to 0.9 measured alike;
# 0.7 began to push down the right section of the right series.
SERIES_DAMPING = 0.85
SERIES_KEY_CHARS = 30  # teaser and opening keys compared on this many characters
SERIES_MIN_KEY = 10  # a shorter key (a teaser of a few letters) names no series
PHRASE_BOOST = 1.0  # the words side by side, as typed, in a keyword query
PHRASE_MAX_TERMS = 6  # longer runs of words are rarely found side by side
EXACT_COUNT_MAX = 2000  # count hits exactly when at most about this many could match
# BM25's b: how far a long article's score is divided down for its length
# (0 = not at all, 1 = fully; Whoosh and most engines use 0.75). A health
# article is long because it covers more of its subject (an overview of a
# condition beside a one-paragraph note that names it once), rarely because
# it is wordy, and full normalisation ranks the note first. Half was measured
# better than 0.75 on the real questions (scripts/eval_realworld.py: all
# four figures, on both halves of two splits of the questions), with the
# starter KB's evaluation unchanged. 0.3 also beat 0.75 on all four, 0.4 on
# three, 0.6 on the two own-text figures only, 0.9 on none.
LENGTH_NORMALISATION = 0.5


def weighting() -> BM25F:
    """The scoring model every search uses (title and body alike)."""
    return BM25F(B=LENGTH_NORMALISATION)


def with_phrase_bonus(query, words: list[str], analyzer, boost: float):
    """``query`` plus an optional bonus for articles holding the words side by
    side, as typed ("high blood pressure", not "high" here and "blood" there).
    Optional (``AndMaybe``): it re-orders what ``query`` finds, adds nothing."""
    terms = [t for word in words for t in analyzer.terms(word)]
    if query is NullQuery or len(terms) < 2 or len(terms) > PHRASE_MAX_TERMS:
        return query
    phrase = union([Phrase(name, terms, boost=boost) for name in ("title", "body")])
    return AndMaybe(query, phrase)


def rerank_by_title(ranked: list, rows: dict, query, text: str, analyzer) -> list:
    """Re-order a question's (score, id, hit) triples: each score grows with
    the share of its title's content words that the question searched
    (its words, their synonyms, and the words naming its intent); then
    :func:`spread_series`. ``rows`` maps ids to their catalog rows.

    An article titled by the question's subject ("Shingles", "What is
    shingles?", "What are the treatments for shingles?" when asked how to
    treat it) is about what was asked; one that only mentions the words, or
    is titled by something else as well, is less likely to be."""
    searched = {text for _field, text in query.iter_all_terms(phrases=True)}
    searched = {t.decode("utf-8") if isinstance(t, bytes) else t for t in searched}
    for intent in intents_of(text):
        for words in intent.title_words:
            searched.update(analyzer.terms(words))
    rescored = []
    for score, article_id, hit in ranked:
        row = rows.get(article_id)
        words = content_words(_TITLE_WORD.findall(row.title if row is not None else ""))
        terms = {t for word in words for t in analyzer.terms(word)}
        coverage = len(terms & searched) / len(terms) if terms else 0.0
        rescored.append((score * (1 + TITLE_WEIGHT * coverage), article_id, hit))
    rescored.sort(key=lambda r: -r[0])
    return spread_series(rescored, rows)


def spread_series(ranked: list, rows: dict) -> list:
    """(score, id, hit) triples, best first, each score multiplied by
    :data:`SERIES_DAMPING` once for every better-ranked hit of its series.

    Two articles are of one series when their footers point to the same
    articles: at least two of their keys (teasers, and each one's own
    opening, which its siblings' teasers quote) are shared, and at least half
    of the smaller set. One shared teaser is not enough: thousands of
    MedQuAD answers open with the same sentence, so one teaser can match
    unrelated documents."""
    seen: list[frozenset[str]] = []
    spread = []
    for score, article_id, hit in ranked:
        keys = series_keys(rows.get(article_id))
        earlier = sum(1 for other in seen if _same_series(keys, other))
        seen.append(keys)
        spread.append((score * SERIES_DAMPING**earlier, article_id, hit))
    spread.sort(key=lambda r: -r[0])
    return spread


def series_keys(row) -> frozenset[str]:
    """The keys naming ``row``'s series: its teasers' and its opening's
    first :data:`SERIES_KEY_CHARS` key characters."""
    if row is None:
        return frozenset()
    # match_key as links.py keys teasers and openings (links.py itself is
    # not loaded by a search: see tests/test_startup.py).
    keys = {match_key(text)[:SERIES_KEY_CHARS] for text in row.teasers}
    if row.opening:
        keys.add(row.opening[:SERIES_KEY_CHARS])
    return frozenset(key for key in keys if len(key) >= SERIES_MIN_KEY)


def _same_series(keys: frozenset[str], other: frozenset[str]) -> bool:
    shared = len(keys & other)
    return shared >= 2 and 2 * shared >= min(len(keys), len(other))


def count_hits(results, wanted: int, doc_count: int, *, exact_max: int | None = None) -> tuple[int, bool]:
    """(hits, exact) for Whoosh ``results`` collected with limit ``wanted``;
    counted exactly when at most ``exact_max`` (default
    :data:`EXACT_COUNT_MAX`) could match."""
    scored = results.scored_length()
    if scored < wanted:
        return scored, True  # every hit was collected
    estimate = min(results.estimated_length(), doc_count)
    if estimate <= (EXACT_COUNT_MAX if exact_max is None else exact_max):
        return len(results), True  # a count pass over few postings
    return max(estimate, scored), False


def all_then_any(first, second, wanted: int) -> list:
    """Hits of ``first`` (all words), then those of ``second`` (any word)
    not already there, up to ``wanted``: (score, id, hit) triples."""
    ranked = [(h.score, h["id"], h) for h in first]
    seen = {article_id for _s, article_id, _h in ranked}
    for hit in second:
        if len(ranked) >= wanted:
            break
        if hit["id"] not in seen:
            ranked.append((hit.score, hit["id"], hit))
    return ranked
