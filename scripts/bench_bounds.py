#!/usr/bin/env python3
"""Time and memory of the queries that once had no bound (issue 13, "Bounds").

Owns: the list of expensive query shapes and one whole-process run of each.

    python scripts/make_corpus.py 20000 /tmp/c20k
    python scripts/bench_bounds.py /tmp/c20k            # builds the index first if needed

Each query runs as `healthkb --kb KB search --json QUERY` (the index is brought
up to date once before, so no run pays for indexing); reported are wall
seconds, CPU seconds (a fairer figure on a busy machine), the peak RSS of the
process (os.wait4), the hit count and the notices the search printed. Target: every query <= 1 s and <= 250 MB at 20,000 articles.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import string
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))
from bench import checked, find_healthkb, run  # noqa: E402  (a sibling script, not a package)

TARGET_SECONDS = 1.0
TARGET_MB = 250


def corpus_words(kb: Path, count: int, seed: int = 1) -> list[str]:
    """``count`` words drawn from the KB's own articles (so most are indexed)."""
    words: list[str] = []
    for path in sorted(kb.rglob("*.txt"))[:200]:
        words += [w for w in path.read_text(encoding="utf-8", errors="replace").split() if w.isalpha()]
    return random.Random(seed).choices(words, k=count)


def bad_queries(kb: Path) -> list[tuple[str, str]]:
    """(label, query) for every shape issue 13 lists, plus close relatives."""
    two_letter = ["".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2)][:130]
    nonsense = random.Random(2)
    return [
        ("range [a TO z]", "[a TO z]"),
        ("range title:[a TO z]", "title:[a TO z]"),
        ("prefix co*", "co*"),
        ("wildcard co*a*", "co*a*"),
        ("wildcard co?*", "co?*"),
        ("fuzzy word~2", "word~2"),
        ("fuzzy lumbar~2 disc~1", "lumbar~2 disc~1"),
        ("130 two-letter prefixes OR-ed", " OR ".join(f"{p}*" for p in two_letter)),
        ("130 two-letter prefixes AND-ed", " ".join(f"{p}*" for p in two_letter)),
        ("10,000 corpus words", " ".join(corpus_words(kb, 10_000))),
        ("10,000 nonsense words", " ".join("".join(nonsense.choices("bcdfgklmnprstvz", k=7)) for _ in range(10_000))),
        ("10,000 words OR-ed", " OR ".join(corpus_words(kb, 10_000, seed=3))),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kb", type=Path, help="a KB folder (e.g. made by make_corpus.py)")
    parser.add_argument("--healthkb", help="command to run healthkb (default: the console script)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    hk = find_healthkb(args.healthkb)
    env = dict(os.environ)
    checked(run([*hk, "--kb", str(args.kb), "stats"], env, timeout=3600))  # index up to date
    rows, failed = [], 0
    for label, query in bad_queries(args.kb):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = run([*hk, "--kb", str(args.kb), "search", "--json", query], env, timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        mb = result["max_rss_kb"] / 1024
        hits = json.loads(result["stdout"])["total"] if result["rc"] in (0, 1) and result["stdout"] else None
        notices = [line for line in result["stderr"].splitlines() if line.startswith("healthkb: ")]
        ok = result["seconds"] <= TARGET_SECONDS and mb <= TARGET_MB and result["rc"] in (0, 1)
        failed += not ok
        rows.append({"query": label, "seconds": round(result["seconds"], 3), "cpu_s": round(cpu, 3), "max_rss_mb": round(mb, 1),
                     "rc": result["rc"], "hits": hits, "notices": notices, "ok": ok})
        print(f"{'ok ' if ok else 'BAD'} {result['seconds']:7.3f} s (cpu {cpu:6.3f} s) {mb:6.1f} MB rc={result['rc']} "
              f"hits={hits}  {label}", flush=True)
        for line in notices:
            print(f"        {line[:160]}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
