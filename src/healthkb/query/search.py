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

from healthkb.corpus import current_body
from healthkb.errors import BadInputError
from healthkb.index.catalog import ArticleRow, Catalog
from healthkb.index.store import IndexPaths
from healthkb.query.bounds import bound_query
from healthkb.query.expansion import SEARCH_FIELDS, QueryExpander, unless_searched
from healthkb.query.plainquery import ANY_TERM_SCALE, plain_query
from healthkb.query.reading import clean_query
from healthkb.query.rescue import rescue_search
from healthkb.query.snippets import make_snippet, snippet_terms
from healthkb.query.spelling import suggest_query
from healthkb.text import match_key


def open_shards(paths: IndexPaths, catalog: Catalog) -> list:
    generation = catalog.get_meta("generation")
    shards = int(catalog.get_meta("shards") or 1)
    return [whoosh_index.open_dir(str(paths.shard_dir(int(generation), k))) for k in range(shards)]


@dataclass(slots=True)
class Hit:
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
        self.searcher = WhooshSearcher(reader)
        self.schema = self._indexes[0].schema
        self._parsers: dict[bool, object] = {}
        self.expander = QueryExpander(paths.kb.marker_dir)  # loads the vocabulary on first use

    def close(self) -> None:
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

    def parse(self, text: str, any_term: bool = False):
        """The query for ``text`` as written (expansion.py adds synonyms)."""
        query = plain_query(text, self.schema["body"].analyzer, any_term=any_term)
        if query is None:
            query = self.parser(any_term).parse(text)
        return query

    # -- search ------------------------------------------------------------
    def search(
        self, text: str, *, limit: int = 10, page: int = 1, explain: bool = False, exact: bool = False
    ) -> SearchResult:
        """Search for ``text``; ``exact`` turns off the vocabulary's synonyms."""
        started = time.perf_counter()
        text, notices = clean_query(text)
        offset = (page - 1) * limit
        built = self.expander.build(self, text, exact=exact)
        notices += built.notices
        bounded = bound_query(built.query, self.searcher.reader())  # wildcards, ranges: bounds.py
        query, notices = bounded.query, notices + bounded.notices
        fallback = rescued = None
        results = self.searcher.search(query, limit=offset + limit + 5, terms=explain)
        exact_ids = self.catalog.ids_with_title_key(match_key(text)) if match_key(text) else []
        if query is NullQuery and not exact_ids:
            # Only operators (a lone AND), stop words or empty groups: say so
            # rather than report "0 results" for something never searched.
            raise BadInputError(
                f'nothing to search for in "{text}": operators and very common words alone are not indexed',
                hint='try: healthkb search "lumbar"',
            )
        if results.is_empty() and not exact_ids:
            rescued = rescue_search(self, text, built.query, exact=exact, limit=offset + limit + 5, explain=explain)
            notices += rescued.notices
            if rescued.results is not None:
                results, query, built = rescued.results, rescued.query, rescued.built
                fallback = "any" if rescued.any_term else None
        total = results.scored_length()
        if total >= offset + limit + 5:
            # More hits than we scored: count the rest (the only full pass, and
            # only for queries with many hits).
            total = len(results)
        ranked = [(h.score, h["id"], h) for h in results]
        ranked_ids = {article_id for _s, article_id, _h in ranked}
        ordered = [(0.0, i, None) for i in exact_ids if i not in ranked_ids]
        total += len(ordered)
        exact = set(exact_ids)
        ordered = [r for r in ranked if r[1] in exact] + ordered + [r for r in ranked if r[1] not in exact]
        hits = self._hits(ordered[offset:], limit, offset, query, exact, explain)
        suggestion = None
        if rescued is not None and rescued.corrected:
            suggestion = rescued.corrected
        elif total < 3:
            suggestion = unless_searched(suggest_query(self.catalog, text), text, built.added)
        return SearchResult(
            query=text, total=total, page=page, limit=limit, hits=hits, suggestion=suggestion,
            fallback=fallback, expanded=built.added, rescue=rescued.step if rescued else None,
            notices=notices, seconds=time.perf_counter() - started,
        )

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
