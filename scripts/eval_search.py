#!/usr/bin/env python3
"""Search-quality evaluation: healthkb (with and without the health vocabulary)
beside SQLite FTS5, on the starter KB and a query set with relevance judgements.

Owns the evaluation only; it searches through the public Searcher API.

    python scripts/eval_search.py                 # table on stdout
    python scripts/eval_search.py --json out.json --timing
    python scripts/eval_search.py --queries 8     # the first 8 queries (smoke test)

It copies the KB (default: the repo's kb/) to a temporary folder, indexes the
copy, and runs every query in-process against:

* healthkb            - ``Searcher.search``: expansion, then the rescue chain
* healthkb --exact    - the same without the vocabulary (rescue still runs)
* Whoosh AND only     - the parsed query alone: no expansion, no rescue
* FTS5 AND, then OR   - stdlib sqlite3, tokenize='porter unicode61', bm25 with
                        the title weighted 3 as in healthkb; all words, and any
                        word if all find nothing (the same rule healthkb follows)
* FTS5 OR             - any word, ranked by bm25

The headline FTS5 row is "AND, then OR": it gives FTS5 the same all-terms-then-
any-term rule healthkb applies, so neither side gets a rule the other lacks;
plain OR is shown too, as FTS5 at its most forgiving.

Metrics: MRR@10 (1/rank of the first relevant article in the top 10, else 0)
and recall@10 (share of a query's relevant articles in the top 10), over all
queries and separately over "lay" and "plain" ones. A query is *lay* when at
least one of its words (stop words aside) occurs in no relevant article's
title or body, not even as another form of the word (Porter stem): stemming
alone cannot bridge it. Each query's ``lay`` flag in the query file is checked
against that, so the file cannot claim more lay queries than it has.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_KB = REPO / "kb"
DEFAULT_QUERIES = REPO / "scripts" / "eval_queries.toml"
K = 10
_TOKEN = re.compile(r"[^\W_]+")


@dataclass
class Query:
    text: str
    relevant: list[str]
    lay: bool
    note: str = ""


@dataclass
class SystemScore:
    name: str
    ranks: list[int | None] = field(default_factory=list)  # first relevant rank per query
    recalls: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def mrr(self, picks: list[int]) -> float:
        return _mean([1 / self.ranks[i] if self.ranks[i] else 0.0 for i in picks])

    def recall(self, picks: list[int]) -> float:
        return _mean([self.recalls[i] for i in picks])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def load_queries(path: Path, limit: int | None = None) -> list[Query]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    queries = [Query(q["text"], list(q["relevant"]), bool(q["lay"]), q.get("note", "")) for q in data["query"]]
    return queries[:limit] if limit else queries


# --- the KB copy and its texts ------------------------------------------------


def index_copy(source: Path, workdir: Path):
    """Copy ``source`` (without its index) to ``workdir`` and index the copy."""
    from healthkb.index.api import open_index
    from healthkb.kb import KB

    root = workdir / "kb"
    shutil.copytree(source, root, ignore=shutil.ignore_patterns(".healthkb", "__pycache__", "*.py"))
    return open_index(KB(root, "option"))


def article_texts(ix) -> dict[str, tuple[str, str]]:
    """id -> (title, body) exactly as healthkb indexed them."""
    return {row.id: (row.title, ix.body(row) or "") for row in ix.catalog.iter_articles()}


def check_queries(queries: list[Query], texts: dict[str, tuple[str, str]]) -> list[str]:
    """Problems with the query file: unknown ids, and lay flags the texts contradict."""
    from whoosh.analysis import STOP_WORDS
    from whoosh.lang.porter import stem

    from healthkb.index.schema import fold_for_index

    stems: dict[str, set[str]] = {}
    problems = []
    for query in queries:
        unknown = [i for i in query.relevant if i not in texts]
        if unknown:
            problems.append(f"{query.text!r}: unknown article ids {unknown}")
            continue
        for article_id in query.relevant:
            if article_id not in stems:
                title, body = texts[article_id]
                stems[article_id] = {stem(w) for w in _TOKEN.findall(fold_for_index(f"{title} {body}"))}
        words = [w for w in _TOKEN.findall(fold_for_index(query.text)) if len(w) > 1 and w not in STOP_WORDS]
        absent = [w for w in words if all(stem(w) not in stems[i] for i in query.relevant)]
        if bool(absent) != query.lay:
            why = f"words absent from its articles: {absent}" if absent else "every word occurs in its articles"
            problems.append(f"{query.text!r}: lay = {str(query.lay).lower()} but {why}")
    return problems


# --- the systems ----------------------------------------------------------------


def healthkb_system(searcher, *, exact: bool):
    def run(text: str) -> list[str]:
        return [hit.id for hit in searcher.search(text, limit=K, exact=exact).hits]

    return run


def whoosh_and_system(searcher):
    def run(text: str) -> list[str]:
        return [hit["id"] for hit in searcher.searcher.search(searcher.parse(text), limit=K)]

    return run


def fts5_index(texts: dict[str, tuple[str, str]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize='porter unicode61')")
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(i, t, b) for i, (t, b) in texts.items()])
    return db


def fts5_system(db: sqlite3.Connection, *, all_first: bool):
    def match(text: str, joiner: str) -> list[str]:
        tokens = _TOKEN.findall(text)
        if not tokens:
            return []
        expression = f" {joiner} ".join(f'"{token}"' for token in tokens)
        rows = db.execute(
            "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0.0, 3.0, 1.0) LIMIT ?", (expression, K)
        )
        return [article_id for (article_id,) in rows]

    def run(text: str) -> list[str]:
        found = match(text, "AND") if all_first else []
        return found or match(text, "OR")

    return run


def score(name: str, run, queries: list[Query]) -> tuple[SystemScore, list[list[str]]]:
    result = SystemScore(name)
    rankings = []
    for query in queries:
        started = time.perf_counter()
        ids = run(query.text)[:K]
        result.seconds.append(time.perf_counter() - started)
        rankings.append(ids)
        ranks = [n for n, article_id in enumerate(ids, 1) if article_id in query.relevant]
        result.ranks.append(ranks[0] if ranks else None)
        result.recalls.append(len(set(ids) & set(query.relevant)) / len(query.relevant))
    return result, rankings


# --- timings ----------------------------------------------------------------------


def timings(searcher, queries: list[Query], texts: dict[str, tuple[str, str]], repeat: int = 15) -> dict:
    """Warm, in-process times in ms of the eval's queries and of the long and
    synonym-heavy queries whose cost the issue bounds: the fastest of
    ``repeat`` runs (as timeit does: other load on the machine only ever adds
    time), the expanded and the --exact search of a query taking turns."""
    from healthkb.synonyms import load_vocabulary

    def pair(text: str) -> tuple[float, float]:
        runs: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeat):
            for exact in (False, True):
                started = time.perf_counter()
                searcher.search(text, limit=K, exact=exact)
                runs[exact].append(time.perf_counter() - started)
        return min(runs[False]) * 1000, min(runs[True]) * 1000

    for query in queries:
        searcher.search(query.text, limit=K)  # warm every code path once
    per_query = [pair(q.text) for q in queries]
    body = max(texts.values(), key=lambda t: len(t[1]))[1]
    vocabulary = load_vocabulary()
    single = [t.text for g in vocabulary.groups for t in g if " " not in t.text and t.text.isalpha() and not t.case_sensitive]
    synonym_words = list(dict.fromkeys(w.lower() for w in single))
    cases = {
        "eval queries (median)": (statistics.median(e for e, _ in per_query), statistics.median(x for _, x in per_query)),
        "50 words of an article": pair(" ".join(body.split()[:50])),
        "10 words, all with synonyms": pair(" ".join(synonym_words[:10])),
        "50 words, all with synonyms": pair(" ".join(synonym_words[:50])),
    }
    normal = cases["eval queries (median)"][0]
    return {
        name: {"expanded_ms": round(expanded, 2), "exact_ms": round(exact, 2),
               "vs_exact": round(expanded / exact, 2), "vs_normal_query": round(expanded / normal, 2)}
        for name, (expanded, exact) in cases.items()
    }


# --- report -----------------------------------------------------------------------


def report(systems: list[SystemScore], queries: list[Query]) -> tuple[str, dict]:
    everyone = list(range(len(queries)))
    lay = [i for i in everyone if queries[i].lay]
    plain = [i for i in everyone if not queries[i].lay]
    rows, summary = [], {}
    for system in systems:
        numbers = {
            "mrr@10": system.mrr(everyone), "mrr@10 lay": system.mrr(lay), "mrr@10 plain": system.mrr(plain),
            "recall@10": system.recall(everyone), "recall@10 lay": system.recall(lay),
            "recall@10 plain": system.recall(plain),
            "ms per query": 1000 * _mean(system.seconds),
        }
        summary[system.name] = {key: round(value, 3) for key, value in numbers.items()}
        rows.append([system.name, *(f"{value:.3f}" for value in list(numbers.values())[:-1]),
                     f"{numbers['ms per query']:.1f}"])
    headers = ["system", "MRR@10", "MRR lay", "MRR plain", "R@10", "R@10 lay", "R@10 plain", "ms/query"]
    title = f"{len(queries)} queries ({len(lay)} lay, {len(plain)} plain), top {K}"
    return title + "\n" + tabulate(rows, headers=headers, tablefmt="github"), summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB, help="the KB to copy and search")
    parser.add_argument("--query-file", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--queries", type=int, default=None, help="use only the first N queries")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--timing", action="store_true", help="also time long and synonym-heavy queries")
    parser.add_argument("--misses", action="store_true", help="list queries healthkb does not rank first")
    args = parser.parse_args(argv)

    queries = load_queries(args.query_file, args.queries)
    with tempfile.TemporaryDirectory(prefix="healthkb-eval-") as workdir:
        ix = index_copy(args.kb, Path(workdir))
        try:
            texts = article_texts(ix)
            problems = check_queries(queries, texts)
            if problems:
                print("the query file has problems:\n  " + "\n  ".join(problems), file=sys.stderr)
                return 2
            searcher = ix.searcher()
            fts = fts5_index(texts)
            runs = [
                ("healthkb", healthkb_system(searcher, exact=False)),
                ("healthkb --exact", healthkb_system(searcher, exact=True)),
                ("Whoosh AND only", whoosh_and_system(searcher)),
                ("FTS5 AND, then OR", fts5_system(fts, all_first=True)),
                ("FTS5 OR", fts5_system(fts, all_first=False)),
            ]
            for _name, run in runs[:3]:
                run(queries[0].text)  # warm: parser, vocabulary, caches
            scored = [score(name, run, queries) for name, run in runs]
            table, summary = report([s for s, _ in scored], queries)
            print(table)
            output: dict = {"k": K, "queries": len(queries), "systems": summary}
            if args.misses:
                for query, rank, ids in zip(queries, scored[0][0].ranks, scored[0][1]):
                    if rank != 1:
                        print(f"  rank {rank}: {query.text!r} -> {ids[:3]}")
            if args.timing:
                times = timings(searcher, queries, texts)
                rows = [[name, *t.values()] for name, t in times.items()]
                headers = ["healthkb, warm", "ms", "ms --exact", "÷ --exact", "÷ median eval query"]
                print(tabulate(rows, headers=headers, tablefmt="github"))
                output["timings_ms"] = times
            output["per_query"] = [
                {"text": q.text, "lay": q.lay, "relevant": q.relevant,
                 **{s.name: {"rank": s.ranks[n], "top": ids[n][:3]} for s, ids in scored}}
                for n, q in enumerate(queries)
            ]
        finally:
            ix.close()
    if args.json:
        args.json.write_text(json.dumps(output, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
