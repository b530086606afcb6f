"""Running a search: the pipeline's driver, and "more like this".

Decides the order of the steps (see the package docstring) and what a hit
is: reads the query (reading.py), builds and expands it (expansion.py), runs
it on the index, hands an empty result to the rescue chain (rescue.py), then
orders the hits (exact titles first) and cuts their snippets (snippets.py).

A :class:`Searcher` opens the catalog and every shard once and can answer many
queries (the benchmark keeps one warm).  Whoosh is imported here and only here
on the read path, so commands that do not search never pay for it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from healthkb.query.startup import defer_unused_whoosh_modules

defer_unused_whoosh_modules()  # before the first whoosh.query import (startup.py)

from whoosh import index as whoosh_index  # noqa: E402
from whoosh.query import NullQuery
from whoosh.reading import MultiReader, TermNotFound
from whoosh.searching import Searcher as WhooshSearcher

from healthkb.files import current_body
from healthkb.errors import NotFoundError
from healthkb.index.catalog import ArticleRow, Catalog
from healthkb.index.schema import fold_for_index
from healthkb.index.store import IndexPaths
from healthkb.query.bounds import bound_query
from healthkb.query.collecting import TermAtATimeCollector
from healthkb.query.expansion import SEARCH_FIELDS, QueryExpander, is_plain, unless_searched
from healthkb.query.plainquery import ANY_TERM_SCALE, plain_query
from healthkb.query.question import content_words, is_question, rarest_words
from healthkb.query.ranking import (
    PHRASE_BOOST, RERANK_DEPTH, all_then_any, count_hits, rerank_by_title, weighting, with_phrase_bonus,
)
from healthkb.query.reading import read_query
from healthkb.query.snippets import make_snippet, snippet_terms
from healthkb.query.spelling import suggest_query
from healthkb.query.wordlist import EnglishWords
from healthkb.text import match_key, shorten

FILL_DEPTH = 50  # any-word hits collected to follow fewer than a page of all-words hits


def open_shards(paths: IndexPaths, catalog: Catalog) -> list:
    generation = catalog.get_meta("generation")
    shards = int(catalog.get_meta("shards") or 1)
    return [whoosh_index.open_dir(str(paths.shard_dir(int(generation), k))) for k in range(shards)]


@dataclass(slots=True)
class Hit:
    """One search hit as shown: rank, article, score and snippet."""

    rank: int
    id: str
    title: str
    path: str
    score: float
    snippet: list[tuple[str, bool]]  # (text, highlighted) segments
    exact_title: bool = False
    explain: list[str] = field(default_factory=list)

    @property
    def snippet_text(self) -> str:
        return "".join(text for text, _ in self.snippet)


@dataclass(slots=True)
class SearchResult:
    """A page of hits and what the search did to find them."""

    query: str
    total: int
    page: int
    limit: int
    hits: list[Hit]
    suggestion: str | None = None
    fallback: str | None = None  # "any" when all-terms found nothing
    expanded: list[str] = field(default_factory=list)  # vocabulary terms searched too
    rescue: str | None = None  # the zero-result rescue step that found the hits (rescue.py)
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    total_exact: bool = True  # False: ``total`` is an estimate ("about N")


class Searcher:
    """An open index: the catalog plus a Whoosh searcher over every shard."""

    def __init__(self, paths: IndexPaths, catalog: Catalog) -> None:
        self.paths = paths
        self.catalog = catalog
        self._indexes = open_shards(paths, catalog)
        # One flat list of segment readers: a shard updated incrementally has
        # several segments, and a MultiReader nested in a MultiReader gives
        # sub-searchers whose MultiMatcher lacks skip_to_quality, so every
        # ranked search would fail (NotImplementedError) until a rebuild.
        readers = [leaf for ix in self._indexes for leaf, _offset in ix.reader().leaf_readers()]
        reader = readers[0] if len(readers) == 1 else MultiReader(readers)
        self.searcher = WhooshSearcher(reader, weighting=weighting())  # BM25F as ranking.py sets it
        self.schema = self._indexes[0].schema
        self._parsers: dict[bool, object] = {}
        self.expander = QueryExpander(paths.kb.marker_dir)  # loads the vocabulary on first use
        self._vocabulary_words: frozenset[str] | None = None
        self._english = EnglishWords()  # opened on the first word the KB and the vocabulary lack
        self._norms: dict = {}  # BM25F length terms per segment and field (collecting.py)

    def close(self) -> None:
        self._english.close()
        self.searcher.close()
        for ix in self._indexes:
            ix.close()

    def __enter__(self) -> "Searcher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- query -------------------------------------------------------------
    def parser(self, any_term: bool):
        if any_term not in self._parsers:
            from whoosh.qparser import AndGroup, MultifieldParser, OrGroup  # slow import: only for syntax

            group = OrGroup.factory(ANY_TERM_SCALE) if any_term else AndGroup
            self._parsers[any_term] = MultifieldParser(list(SEARCH_FIELDS), self.schema, group=group)
        return self._parsers[any_term]

    def parse(self, text: str, any_term: bool = False, scale: float | None = ANY_TERM_SCALE):
        """The query for ``text`` as written (expansion.py adds synonyms)."""
        query = plain_query(text, self.schema["body"].analyzer, any_term=any_term, scale=scale)
        if query is None:
            query = self.parser(any_term).parse(text)
        return query

    # -- search ------------------------------------------------------------
    def search(
        self, text: str, *, limit: int = 10, page: int = 1, explain: bool = False, exact: bool = False
    ) -> SearchResult:
        """Search for ``text``; ``exact`` turns off the vocabulary's synonyms."""
        started = time.perf_counter()
        read = read_query(text)
        text, notices = read.text, list(read.notices)
        question = not read.syntax and is_question(read.words, read.question_mark)
        offset = (page - 1) * limit
        wanted = offset + limit + 5
        keep = set(rarest_words(content_words(read.words), self.doc_frequency, doc_count=self.doc_count())) \
            if question else None
        built = self.expander.build(self, text, exact=exact, question=question, keep=keep)
        query = built.query
        if not question and not read.syntax:
            query = with_phrase_bonus(query, read.words, self.schema["body"].analyzer, PHRASE_BOOST)
        notices += built.notices
        bounded = bound_query(query, self.searcher.reader())  # wildcards, ranges: bounds.py
        query, notices = bounded.query, notices + bounded.notices
        fallback = rescued = None
        depth = max(wanted, RERANK_DEPTH) if question else wanted
        if question and not explain:
            results = self._collect_question(query, depth)
        else:
            results = self.searcher.search(query, limit=depth, terms=explain)
        exact_ids = self.catalog.ids_with_title_key(match_key(text)) if match_key(text) else []
        if query is NullQuery and not exact_ids:
            # Only operators, stop words or empty groups: say so rather than
            # report "0 results" for something never searched.
            raise NotFoundError(
                f'nothing searchable was left in "{shorten(text, 60)}": very common words alone are not indexed',
                hint='try: healthkb search "lumbar"',
            )
        if results.is_empty() and not exact_ids:
            from healthkb.query.rescue import rescue_search  # only when nothing matched

            rescued = rescue_search(self, text, built.query, exact=exact, limit=wanted, explain=explain)
            notices += rescued.notices
            if rescued.results is not None:
                results, query, built = rescued.results, rescued.query, rescued.built
                fallback = "any" if rescued.any_term else None
        # A question matches most of a KB by some word: its count is the
        # estimate, never a second pass over every hit.
        total, counted = count_hits(results, wanted, self.doc_count(), exact_max=0 if question else None) \
            if hasattr(results, "estimated_length") else (len(results), True)
        ranked = [(h.score, h["id"], h) for h in results]
        if question and rescued is None:
            rows = self.catalog.articles_by_id([r[1] for r in ranked])
            ranked = rerank_by_title(ranked, rows, query, text, self.schema["body"].analyzer)
        if not question and rescued is None and 0 < total < wanted and not exact and is_plain(text):
            # Fewer all-words hits than a page: articles with some of the
            # words follow them rather than stay hidden.
            more = self.expander.build(self, text, any_term=True)
            if more.query != query and more.query is not NullQuery:
                # A depth that does not follow the page size: Whoosh's top-N
                # skipping can admit a phrase's near miss that a deeper
                # collection would not, and the first page must not change.
                extra = self.searcher.search(more.query, limit=max(wanted, FILL_DEPTH), terms=explain)
                ranked = all_then_any(results, extra, wanted)
                total = max(total, count_hits(extra, wanted, self.doc_count())[0])
        ranked_ids = {article_id for _s, article_id, _h in ranked}
        ordered = [(0.0, i, None) for i in exact_ids if i not in ranked_ids]
        total += len(ordered)
        exact_set = set(exact_ids)
        ordered = [r for r in ranked if r[1] in exact_set] + ordered + [r for r in ranked if r[1] not in exact_set]
        hits = self._hits(ordered[offset:], limit, offset, query, exact_set, explain)
        suggestion = None
        if rescued is not None and rescued.corrected:
            suggestion = rescued.corrected
        elif total < 3:
            suggestion = unless_searched(suggest_query(self.catalog, text, self.is_word, hint=True), text, built.added)
        return SearchResult(
            query=text, total=total, page=page, limit=limit, hits=hits, suggestion=suggestion,
            fallback=fallback, expanded=built.added, rescue=rescued.step if rescued else None,
            notices=notices, seconds=time.perf_counter() - started, total_exact=counted,
        )

    def _collect_question(self, query, limit: int):
        """A question's OR query, scored term at a time (collecting.py): the
        same hits and scores as ``searcher.search``, for less work."""
        if limit >= self.searcher.doc_count():
            return self.searcher.search(query, limit=limit)  # Whoosh collects everything then
        collector = TermAtATimeCollector(limit, self._norms)
        self.searcher.search_with_collector(query, collector)
        return collector.results()

    def doc_frequency(self, word: str) -> int:
        """How many articles hold ``word`` in title or body (the larger of the two)."""
        terms = self.schema["body"].analyzer.terms(word)
        if len(terms) != 1:
            return 0
        return max(self.searcher.doc_frequency(name, terms[0]) for name in SEARCH_FIELDS)

    def is_word(self, word: str) -> bool:
        """Whether folded ``word`` is a real word (health vocabulary or English),
        which the spelling and fuzzy steps never replace."""
        if self._vocabulary_words is None:
            vocabulary, _notices = self.expander.vocabulary()  # problems are reported by the searches that expand
            self._vocabulary_words = vocabulary.words()
        return word in self._vocabulary_words or fold_for_index(word) in self._english

    def _hits(self, ordered, limit, offset, query, exact, explain) -> list[Hit]:
        rows = self.catalog.articles_by_id([article_id for _s, article_id, _h in ordered[: limit + 5]])
        hits: list[Hit] = []
        terms = None  # the words to highlight, found once for all hits
        for score, article_id, whoosh_hit in ordered:
            if len(hits) >= limit:
                break
            row = rows.get(article_id)
            if row is None:
                continue  # indexed but no longer in the catalog: a concurrent removal
            body = self.body_of(row)
            if body is None:
                continue  # the file vanished since the index was updated: never show it
            if terms is None:
                terms = snippet_terms(query, self.searcher.reader())
            snippet = make_snippet(self.schema["body"].analyzer, body, query, terms=terms)
            hit = Hit(offset + len(hits) + 1, row.id, row.title, row.path, round(float(score), 3), snippet,
                      exact_title=article_id in exact)
            if explain:
                hit.explain = self._explain(whoosh_hit, hit)
            hits.append(hit)
        return hits

    def body_of(self, row: ArticleRow) -> str | None:
        return current_body(os.path.join(self.paths.kb.root, row.path))

    def _explain(self, whoosh_hit, hit: Hit) -> list[str]:
        lines = []
        if hit.exact_title:
            lines.append("title matches the query exactly: ranked first")
        if whoosh_hit is None:
            return lines
        for fieldname, term in sorted(whoosh_hit.matched_terms()):
            word = term.decode("utf-8") if isinstance(term, bytes) else term
            try:
                # Searcher.postings sets the scorer itself (global statistics over all shards).
                matcher = self.searcher.postings(fieldname, word)
            except TermNotFound:
                continue
            matcher.skip_to(whoosh_hit.docnum)
            if matcher.is_active() and matcher.id() == whoosh_hit.docnum:
                lines.append(
                    f"{fieldname}:{word}  weight={matcher.weight():g}  "
                    f"df={self.searcher.doc_frequency(fieldname, word)}  score={matcher.score():.3f}"
                )
        lines.append(f"total BM25F score {hit.score:g}")
        return lines

    # -- more like this ------------------------------------------------------
    def similar(self, row: ArticleRow, limit: int = 10) -> list[Hit]:
        body = self.body_of(row) or ""
        docnum = self.searcher.document_number(id=row.id)
        if docnum is None:
            return []
        results = self.searcher.more_like(docnum, "body", text=body, top=limit + 1, numterms=12)
        ids = [h["id"] for h in results if h["id"] != row.id][:limit]
        rows = self.catalog.articles_by_id(ids)
        scores = {h["id"]: h.score for h in results}
        hits = []
        for article_id in ids:
            if article_id in rows:
                found = rows[article_id]
                hits.append(Hit(len(hits) + 1, found.id, found.title, found.path, round(scores[article_id], 3), []))
        return hits

    def doc_count(self) -> int:
        return self.searcher.doc_count()
