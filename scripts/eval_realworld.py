#!/usr/bin/env python3
"""Search quality on real questions: healthkb beside SQLite FTS5 and plain
Whoosh BM25F, on MedQuAD's answers searched with LiveQA's consumer questions.

    python scripts/eval_realworld.py --data ../shared/realworld
    python scripts/eval_realworld.py --data ../shared/realworld --json out.json
    python scripts/eval_realworld.py --data ../shared/realworld --in-process   # quicker, no latency

The data stays where it is (see its README.md). The MedQuAD KB comes from
``scripts/medquad_kb.py``'s :func:`ensure_kb` (cached); this script keeps, in
the same cache, a copy of it (hard links) with healthkb's index built, the
FTS5 database and the Whoosh index, each rebuilt only when the KB changed.

Every question is searched twice: with the person's own text (subject and
message) and with NLM's one-line summary. The three systems see the same
articles (title and body as healthkb indexed them):

* healthkb            - ``healthkb search TEXT --json --limit 10`` run as a
                        subprocess per query, so the whole-process latency is
                        measured too (``--in-process`` searches in-process);
                        one untimed search first lets Python write its
                        bytecode, as ``pip install`` does for a user (with
                        ``PYTHONDONTWRITEBYTECODE`` set, every run would
                        compile the modules that have none: ~40 ms);
* SQLite FTS5         - ``porter unicode61``, bm25 with the title weighted 3,
                        an OR of the question's words minus stop words;
* plain Whoosh BM25F  - ``StemmingAnalyzer``, title ``field_boost`` 3, an
                        ``OrGroup`` of the same words.

Scores (top 10, unjudged hits count as not relevant): MRR@10, MAP@10 (over
min(relevant, 10)), P@1 and success@10, strict (judgment 3-4 relevant) and
lenient (2-4), over all judged questions and over those with a relevant
article in the KB.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from medquad_kb import STAMP_NAME, default_cache, ensure_kb  # noqa: E402

K = 10
KINDS = ("own", "summary")
LEVELS = {"strict": 3, "lenient": 2}
SYSTEMS = ("healthkb", "FTS5", "Whoosh BM25F")
_WORD = re.compile(r"\w+")
SUBPROCESS_TIMEOUT = 60


@dataclass
class Question:
    id: str
    own: str
    summary: str
    judged: dict[str, int] = field(default_factory=dict)  # article id -> 1..4


def load_questions(data: Path) -> list[Question]:
    raw = json.loads((data / "liveqa" / "dev-questions.json").read_text(encoding="utf-8"))
    questions = {
        str(q["id"]): Question(str(q["id"]), f"{q.get('subject') or ''} {q.get('message') or ''}".strip(), q["summary"])
        for q in raw
    }
    with open(data / "liveqa" / "dev-qrels.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["question"] in questions:
                questions[row["question"]].judged[row["article"]] = int(row["judgment"])
    return [q for q in questions.values() if q.judged]


# --- the systems' indexes (cached) --------------------------------------------------


def prepared_copy(kb: Path, work: Path, log) -> Path:
    """A hard-linked copy of ``kb`` under ``work`` with healthkb's index built;
    made again when the KB's conversion stamp changes."""
    stamp = (kb / STAMP_NAME).read_text()
    root = work / "kb"
    stamp_file = work / "stamp"
    if not (stamp_file.is_file() and stamp_file.read_text() == stamp):
        log(f"realworld: copying {kb} to {root} and indexing it …")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        shutil.copytree(kb, root, copy_function=_link_or_copy, ignore=shutil.ignore_patterns(".healthkb"))
        stamp_file.write_text(stamp)
    from healthkb.index.api import open_index
    from healthkb.kb import KB

    started = time.perf_counter()
    with open_index(KB(root, "option")) as ix:  # builds or refreshes the index when needed
        if time.perf_counter() - started > 5:
            log(f"realworld: healthkb indexed {ix.catalog.count():,} articles in {time.perf_counter() - started:.0f} s")
    return root


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def article_texts(root: Path) -> dict[str, tuple[str, str]]:
    """id -> (title, body) exactly as healthkb indexed them."""
    from healthkb.index.api import open_index
    from healthkb.kb import KB

    with open_index(KB(root, "option")) as ix:
        return {row.id: (row.title, ix.body(row) or "") for row in ix.catalog.iter_articles()}


def fts5_database(work: Path, texts) -> sqlite3.Connection:
    path = work / "fts5.sqlite"
    if not path.exists():
        temporary = path.with_suffix(".tmp")
        temporary.unlink(missing_ok=True)
        db = sqlite3.connect(temporary)
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize='porter unicode61')")
        db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [(i, t, b) for i, (t, b) in texts.items()])
        db.commit()
        db.close()
        temporary.rename(path)
    return sqlite3.connect(path)


def whoosh_index(work: Path, texts, log):
    from whoosh import index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, TEXT, Schema

    folder = work / "whoosh"
    if index.exists_in(str(folder)):
        return index.open_dir(str(folder))
    log("realworld: building the plain Whoosh index …")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    schema = Schema(id=ID(stored=True, unique=True), title=TEXT(analyzer=StemmingAnalyzer(), field_boost=3.0),
                    body=TEXT(analyzer=StemmingAnalyzer()))
    ix = index.create_in(str(folder), schema)
    writer = ix.writer(limitmb=256)
    for article_id, (title, body) in texts.items():
        writer.add_document(id=article_id, title=title, body=body)
    writer.commit()
    return ix


def plain_words(text: str) -> list[str]:
    """The question's words minus stop words (Whoosh's English list), lower case."""
    from whoosh.analysis import STOP_WORDS

    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def fts5_system(db: sqlite3.Connection):
    def run(text: str) -> list[str]:
        words = plain_words(text)
        if not words:
            return []
        expression = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
        rows = db.execute("SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0.0, 3.0, 1.0) LIMIT ?",
                          (expression, K))
        return [article_id for (article_id,) in rows]

    return run


def whoosh_system(ix):
    from whoosh.qparser import MultifieldParser, OrGroup

    parser = MultifieldParser(["title", "body"], ix.schema, group=OrGroup)
    searcher = ix.searcher()

    def run(text: str) -> list[str]:
        words = plain_words(text)
        if not words:
            return []
        return [hit["id"] for hit in searcher.search(parser.parse(" ".join(words)), limit=K)]

    return run


@dataclass
class Run:
    """One healthkb search as a subprocess."""

    text: str
    seconds: float
    cpu_seconds: float  # user + system of the process: what a busy machine does not inflate
    code: int
    ids: list[str]
    error: str = ""


def healthkb_subprocess(root: Path, runs: list[Run]):
    command = [sys.executable, "-m", "healthkb", "--kb", str(root), "search", "--json", "--limit", str(K), "--"]
    # Untimed: writes the bytecode an installed copy has (see the docstring).
    warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([*command, "warm up"], capture_output=True, timeout=SUBPROCESS_TIMEOUT, env=warm)

    def run(text: str) -> list[str]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([*command, text], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        ids: list[str] = []
        if done.stdout.strip():
            try:
                ids = [hit["id"] for hit in json.loads(done.stdout)["hits"]]
            except (ValueError, KeyError):
                pass
        runs.append(Run(text, seconds, cpu, done.returncode, ids, done.stderr.strip()[-300:]))
        return ids

    return run


def healthkb_in_process(root: Path, closers: list):
    from healthkb.errors import HealthKBError
    from healthkb.index.api import open_index
    from healthkb.kb import KB

    ix = open_index(KB(root, "option"))
    closers.append(ix)

    def run(text: str) -> list[str]:
        try:
            return [hit.id for hit in ix.search(text, limit=K).hits]
        except HealthKBError:
            return []

    return run


# --- scoring ------------------------------------------------------------------------


def scores(ids: list[str], judged: dict[str, int], level: int) -> dict[str, float]:
    relevant = {a for a, j in judged.items() if j >= level}
    hits = [n for n, a in enumerate(ids[:K], 1) if a in relevant]
    precision_sum = sum((i + 1) / rank for i, rank in enumerate(hits))
    return {
        "MRR@10": 1 / hits[0] if hits else 0.0,
        "MAP@10": precision_sum / min(len(relevant), K) if relevant else 0.0,
        "P@1": 1.0 if hits and hits[0] == 1 else 0.0,
        "success@10": 1.0 if hits else 0.0,
    }


def summarise(rankings, questions: list[Question], in_kb: set[str]) -> dict:
    """{system: {kind: {level: {subset: {metric: value}, ...}}}}"""
    out: dict = {}
    for system, per_kind in rankings.items():
        for kind, ranked in per_kind.items():
            for level_name, level in LEVELS.items():
                per_q = {q.id: scores(ranked[q.id], q.judged, level) for q in questions}
                subsets = {
                    "all": [q.id for q in questions],
                    "in_kb": [q.id for q in questions if any(j >= level and a in in_kb for a, j in q.judged.items())],
                }
                cell = out.setdefault(system, {}).setdefault(kind, {}).setdefault(level_name, {})
                for subset, ids in subsets.items():
                    cell[subset] = {"n": len(ids)} | {
                        metric: round(statistics.fmean(per_q[i][metric] for i in ids), 3) if ids else 0.0
                        for metric in ("MRR@10", "MAP@10", "P@1", "success@10")
                    }
    return out


def ratios(summary: dict) -> dict:
    """healthkb's MRR@10 over the better baseline's, per figure."""
    out = {}
    for kind in KINDS:
        for level in LEVELS:
            for subset in ("all", "in_kb"):
                mine = summary["healthkb"][kind][level][subset]["MRR@10"]
                best = max(summary[s][kind][level][subset]["MRR@10"] for s in SYSTEMS[1:])
                out[f"{level} {kind} {subset}"] = round(mine / best, 3) if best else None
    return out


def latency(runs: list[Run]) -> dict:
    if not runs:
        return {}

    def figures(values: list[float], prefix: str = "") -> dict:
        ms = sorted(v * 1000 for v in values)
        p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
        return {f"{prefix}median_ms": round(statistics.median(ms)), f"{prefix}p95_ms": round(p95),
                f"{prefix}max_ms": round(ms[-1])}

    return {"queries": len(runs)} | figures([r.seconds for r in runs]) | figures([r.cpu_seconds for r in runs], "cpu_")


def table(summary: dict) -> str:
    metrics = ("MRR@10", "MAP@10", "P@1", "success@10")
    lines = []
    for level in LEVELS:
        any_system = summary[SYSTEMS[0]]["own"][level]
        head = (f"{level} ({'3-4' if level == 'strict' else '2-4'} relevant)".ljust(30)
                + f"all {any_system['all']['n']} questions".ljust(32) + f"{any_system['in_kb']['n']} with an answer in the KB")
        lines += [head, " " * 30 + "  ".join(m.ljust(6) for m in metrics) + "    " + "  ".join(m.ljust(6) for m in metrics)]
        for kind in KINDS:
            for system in SYSTEMS:
                cell = summary[system][kind][level]
                row = f"{system} / {kind}".ljust(30)
                row += "  ".join(f"{cell['all'][m]:.3f} " for m in metrics) + "    "
                row += "  ".join(f"{cell['in_kb'][m]:.3f} " for m in metrics)
                lines.append(row)
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the realworld folder (../shared/realworld)")
    parser.add_argument("--cache", type=Path, default=None, help="work folder (default: beside the MedQuAD KB cache)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--in-process", action="store_true", help="search healthkb in-process (no latency figures)")
    parser.add_argument("--show", action="store_true", help="print each question's healthkb top 3 and relevant ranks")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    kb = ensure_kb(args.data, log=log)
    work = args.cache or default_cache().parent / "realworld"
    root = prepared_copy(kb, work, log)
    texts = article_texts(root)
    questions = load_questions(args.data)
    closers: list = []
    runs: list[Run] = []
    healthkb = healthkb_in_process(root, closers) if args.in_process else healthkb_subprocess(root, runs)
    systems = {"healthkb": healthkb, "FTS5": fts5_system(fts5_database(work, texts)),
               "Whoosh BM25F": whoosh_system(whoosh_index(work, texts, log))}
    rankings: dict = {}
    for name, run in systems.items():
        for kind in KINDS:
            rankings.setdefault(name, {})[kind] = {q.id: run(getattr(q, kind)) for q in questions}
    for ix in closers:
        ix.close()
    summary = summarise(rankings, questions, set(texts))
    failures = [{"query": r.text[:120], "exit": r.code, "stderr": r.error} for r in runs if r.code not in (0, 1)]
    result = {"summary": summary, "mrr_ratio_vs_best_baseline": ratios(summary), "latency": latency(runs),
              "failures": failures, "articles": len(texts)}
    print(f"{len(texts):,} articles, {len(questions)} judged questions, top {K}\n")
    print(table(summary))
    print("healthkb MRR@10 / better baseline's:")
    for name, value in result["mrr_ratio_vs_best_baseline"].items():
        print(f"  {name:24} {value}")
    if runs:
        lat = result["latency"]
        print(f"\nhealthkb search, whole process: median {lat['median_ms']} ms, p95 {lat['p95_ms']} ms, "
              f"max {lat['max_ms']} ms over {lat['queries']} queries (wall clock)")
        print(f"  CPU time (user + system): median {lat['cpu_median_ms']} ms, p95 {lat['cpu_p95_ms']} ms, "
              f"max {lat['cpu_max_ms']} ms")
        exits = sorted({r.code for r in runs})
        print(f"exit codes seen: {exits}; failures (exit not 0/1): {len(failures)}")
        for failure in failures:
            print(f"  exit {failure['exit']}: {failure['query']!r}: {failure['stderr']}")
    if args.show:
        for q in questions:
            for kind in KINDS:
                ids = rankings["healthkb"][kind][q.id]
                ranks = [n for n, a in enumerate(ids, 1) if q.judged.get(a, 0) >= 3]
                print(f"{q.id:>4} {kind:7} strict ranks {ranks} top: {ids[:3]}  | {getattr(q, kind)[:90]!r}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
