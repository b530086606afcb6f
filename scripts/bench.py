#!/usr/bin/env python3
"""Benchmark healthkb against grep/rg and SQLite FTS5, side by side, in one run.

Owns: the numbers that the speed targets of the index issue are read off.

    python scripts/bench.py --sizes 1000,10000 --json bench-results.json

For each size: a fresh corpus (scripts/make_corpus.py), a fresh KB, then
whole-process timings of `healthkb --kb KB ...` (reindex, search, show, links,
--help), in-process timings (warm searcher, link resolution), and baselines on
the same files (`grep -rli`, `rg -li` when installed, SQLite FTS5 with the
porter tokenizer and bm25). Machines are noisy: compare the ratios, which are
measured in the same run, with the probes interleaved round by round.

Every healthkb measurement is allowed to fail (the command may not exist
yet): its error goes to the JSON, "n/a" to the table, and the run goes on.
Memory: for healthkb's builds and updates the process tree is sampled every
20 ms: the largest process's peak RSS (VmHWM, which a new program starts
afresh) and the tree's summed PSS (workers together, shared pages once).
os.wait4's ru_maxrss is not used for them: Linux carries a forking
parent's peak over into the child's program, so a child of this script
reported the script's own size (155 MB for a 34 MB update).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tabulate import tabulate

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))
import make_corpus  # noqa: E402  (a sibling script, not a package)

FTS5_QUERY = "SELECT path, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10"
FTS5_SNIPPET_QUERY = ("SELECT path, snippet(t, 1, '[', ']', '...', 16) FROM t WHERE t MATCH ?"
                      " ORDER BY bm25(t) LIMIT 10")
FTS5_PROCESS_CODE = ("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                     f"rows=c.execute({FTS5_QUERY!r}, (sys.argv[2],)).fetchall(); "
                     "print('\\n'.join(r[0] for r in rows))")
VOCABULARY_CODE = ("import time,json; t0=time.perf_counter(); from healthkb.synonyms import load_vocabulary; "
                   "t1=time.perf_counter(); load_vocabulary(); t2=time.perf_counter(); "
                   "print(json.dumps({'import_ms': (t1-t0)*1e3, 'load_ms': (t2-t1)*1e3}))")
# Stock Whoosh on the same files, in a child process (its CPU seconds include
# its worker processes, which it waits for): title from the file name, the
# whole text as body, Whoosh's StemmingAnalyzer with positions.
STOCK_WHOOSH_CODE = """
import os, sys
from whoosh import fields, index
from whoosh.analysis import StemmingAnalyzer
root, out, mode = sys.argv[1:4]
schema = fields.Schema(id=fields.ID(unique=True, stored=True),
                       title=fields.TEXT(analyzer=StemmingAnalyzer(), field_boost=3.0),
                       body=fields.TEXT(analyzer=StemmingAnalyzer()))
os.makedirs(out)
ix = index.create_in(out, schema)
writer = ix.writer() if mode == 'single' else ix.writer(procs=2, limitmb=256, multisegment=True)
for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    for name in sorted(files):
        if name.endswith('.txt'):
            with open(os.path.join(folder, name), encoding='utf-8', errors='replace') as handle:
                writer.add_document(id=name, title=name[:-4].replace('-', ' '), body=handle.read())
writer.commit()
"""
STOCK_WHOOSH_MODES = {"whoosh_single": "single", "whoosh_procs2": "procs2"}
SHORT_TIMEOUT = 120.0
RUNNING: set[int] = set()  # process groups of live children, killed if the bench is interrupted
SAMPLE_INTERVAL = 0.02


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Failed(Exception):
    """A measured command did not do what was asked; the text goes to the JSON."""


# --------------------------------------------------------------------------- processes

class TreeSampler(threading.Thread):
    """Peak of the summed PSS (kB) of a process and all its descendants, and
    the largest peak RSS (VmHWM, kB) of any one of them."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.largest_kb, self._halt = pid, 0, 0, threading.Event()
        self.start()

    def _tree(self) -> list[int]:
        pids, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            for task in _listdir(f"/proc/{pid}/task"):
                try:
                    todo.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
                except OSError:
                    pass
        return pids

    def run(self) -> None:
        while not self._halt.is_set():
            total = 0
            for pid in self._tree():
                try:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
                            break
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.largest_kb = max(self.largest_kb, int(line.split()[1]))
                            break
                except OSError:  # the process ended between listing and reading
                    pass
            self.peak_kb = max(self.peak_kb, total)
            self._halt.wait(SAMPLE_INTERVAL)

    def stop(self) -> tuple[int, int]:
        self._halt.set()
        self.join()
        return self.peak_kb, self.largest_kb


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def run(cmd: list[str], env: dict, timeout: float = SHORT_TIMEOUT, sample_memory: bool = False) -> dict:
    """Run cmd with stdout to a pipe; wall time, exit code, output, peak memory."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                env=env, start_new_session=True)
        # A new session so that a timeout kills the child's own workers too.
        killer = threading.Timer(timeout, lambda: _kill_group(proc.pid))
        RUNNING.add(proc.pid)
        killer.start()
        sampler = TreeSampler(proc.pid) if sample_memory else None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        killer.cancel()
        RUNNING.discard(proc.pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    tree_pss_kb, largest_kb = sampler.stop() if sampler else (None, None)
    return {"seconds": seconds, "rc": proc.returncode, "stdout": out.decode("utf-8", "replace"),
            "stderr": stderr, "max_rss_kb": largest_kb or usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
            "tree_pss_kb": tree_pss_kb}


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def checked(result: dict, ok_codes=(0,)) -> dict:
    if result["rc"] not in ok_codes:
        tail = (result["stderr"].strip() or result["stdout"].strip())[-400:]
        raise Failed(f"exit {result['rc']}: {tail}")
    return result


def parse_json(result: dict, *keys: str) -> dict:
    try:
        data = json.loads(result["stdout"])
    except ValueError:
        raise Failed(f"output is not JSON: {result['stdout'][:200]!r}") from None
    missing = [k for k in keys if not isinstance(data, dict) or k not in data]
    if missing:
        raise Failed(f"JSON lacks {missing}: {result['stdout'][:200]!r}")
    return data


def percentile(samples: list[float], share: float) -> float:
    """Linear interpolation between closest ranks (like numpy's default)."""
    ordered = sorted(samples)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(samples: list[float]) -> dict:
    return {"p50_ms": percentile(samples, 0.5) * 1e3, "p95_ms": percentile(samples, 0.95) * 1e3,
            "n": len(samples)}


# --------------------------------------------------------------------------- corpus helpers

def article_paths(root: Path) -> list[Path]:
    """The *.txt files of a KB, hidden folders (the index) left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder, f) for f in sorted(files) if f.endswith(".txt") and not f.startswith("."))
    return found


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def choose_queries(corpus: Path, count: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(~22 (kind, query) pairs, the single words also given to the baselines)."""
    words = make_corpus.vocabulary()
    first_pseudo = len(make_corpus.FUNCTION_WORDS)
    # A word expected in about five documents at this size (Zipf: p(r) ~ 1/(r*H)).
    rare_rank = min(len(words) - 200, int(count * 750 / (5 * 11.3)))
    special = set(make_corpus.HEALTH_TERMS) | set(make_corpus.ODD_WORDS)

    def pseudo_at(rank: int) -> str:  # the first made-up word at or below this rank
        return next(w for w in words[rank:] + words[::-1] if w not in special)
    common, mid, rare = pseudo_at(first_pseudo), pseudo_at(2_000), pseudo_at(rare_rank)
    single = ["lumbar", "insomnia", "carcinoma", common, mid, rare, words[-1], "zqxjvw"]
    paths = article_paths(corpus)
    sample = paths[len(paths) // 2]
    body = sample.read_text("utf-8").split(" |\n")[0].split()
    plain = [w for w in body if w.isalpha() and w.islower() and w not in make_corpus.FUNCTION_WORDS]
    pair = next(f"{a} {b}" for a, b in zip(body, body[1:]) if a in plain and b in plain)
    # A three-word phrase as written, stop words included, from another article.
    other = paths[len(paths) // 4].read_text("utf-8").split(" |\n")[0].split()
    triple = next(" ".join(other[k:k + 3]) for k in range(5, len(other) - 3)
                  if all(w.isalpha() and w.islower() for w in other[k:k + 3]))
    title = sample.stem.replace("-", " ")
    queries = [("word", w) for w in single] + [
        ("two words", "lumbar herniation"), ("two words", f"{common} {rare}"),
        ("three words", "insomnia melatonin fatigue"), ("phrase", f'"{pair}"'),
        ("phrase", f'"{triple}"'), ("title", "title:insomnia"), ("title", "title:hypertension"),
        ("misspelling", "lumbr"), ("misspelling", "insomnai"), ("or", "melanoma OR lymphoma"),
        ("not", "carcinoma NOT nasopharyngeal"), ("wildcard", "hyperten*"), ("stem", "herniated"),
        ("accent", "cafe"), ("exact title", title),
    ]
    return queries, single


def add_article(corpus: Path, gen, tag: str) -> Path:
    rng = random.Random(f"bench-add-{tag}")
    body = gen.prose(rng, 700, term="insomnia", mentions=3)
    path = corpus / "sleep" / f"bench-added-article-{tag}.txt"
    path.write_text(make_corpus.render_article(body, None, None, []), "utf-8")
    return path


# --------------------------------------------------------------------------- in-process adapters

def open_warm_searcher(kb_dir: Path):
    """The one place that knows healthkb's in-process search API.

    Returns search(query) -> number of hits shown, on a searcher opened once
    (what `healthkb search` does, minus process start-up). Raises when the
    API is not there (the caller records "n/a").
    """
    from healthkb.index.api import open_index  # noqa: PLC0415  (lazy: may change)
    from healthkb.kb import resolve_kb  # noqa: PLC0415
    searcher = open_index(resolve_kb(str(kb_dir))).searcher()

    def search(query: str) -> int:
        return len(searcher.search(query, limit=10).hits)
    return search


def long_question(corpus: Path) -> str:
    """A 30-word question as people write them: function words around
    words of one article's body (so it has hits of every rarity)."""
    body = article_paths(corpus)[len(article_paths(corpus)) // 3].read_text("utf-8").split(" |\n")[0].split()
    content = [w for w in body if w.isalpha() and w.islower() and w not in make_corpus.FUNCTION_WORDS][:16]
    frame = "hello what is the best way to treat my {} and {} when I also have {} {} {} {} {} {} {} {} {} {} {} {} {} {} thanks?"
    return frame.format(*(content + ["lumbar"] * 16)[:16])


def bench_long_question(bench) -> dict:
    """Whole-process `healthkb search`: a 30-word question against a one-word
    search ("lumbar"), interleaved; the issue's target is a ratio of <= 2."""
    question = long_question(bench.kb)
    samples: dict[str, list[float]] = {"one": [], "long": []}
    for _ in range(bench.reps):
        for name, query in (("one", "lumbar"), ("long", question)):
            result = run(bench.hk("search", query), bench.env)
            if result["rc"] not in (0, 1):
                raise RuntimeError(f"{query[:40]!r}: exit {result['rc']}: {result['stderr'][-200:]}")
            samples[name].append(result["seconds"])
    one, long = summary_ms(samples["one"]), summary_ms(samples["long"])
    return {"long_question": long | {"words": len(question.split()), "over_one_word": long["p50_ms"] / one["p50_ms"]},
            "one_word_search": one}


def bench_links(kb_dir: Path) -> dict:
    """Load every article, then resolve all links in-process (SPEC §2), timed apart."""
    from healthkb import links  # noqa: PLC0415  (lazy: may not exist yet)
    from healthkb.corpus import iter_articles, scan_kb  # noqa: PLC0415
    resolve = getattr(links, "resolve_kb_links", None) or getattr(links, "resolve_all")
    started = time.perf_counter()
    articles = [a for _, a, _ in iter_articles(scan_kb(kb_dir)) if a is not None]
    loaded = time.perf_counter()
    resolve(articles)
    done = time.perf_counter()
    return {"function": f"healthkb.links.{resolve.__name__}", "load_s": loaded - started,
            "resolve_s": done - loaded, "articles": len(articles)}


def bench_freshness(kb_dir: Path, repeat: int = 15) -> dict:
    """The freshness check every reading command runs before it answers
    (healthkb.index.api._current_state_if_stale: a stat of every article), in-process, on an
    up-to-date index.  CPU time is reported beside wall time: on a busy
    machine the wall time mostly measures the other processes."""
    from healthkb.index.api import _current_state_if_stale  # noqa: PLC0415
    from healthkb.index.store import index_paths, open_catalog_for_read  # noqa: PLC0415
    from healthkb.kb import resolve_kb  # noqa: PLC0415
    paths = index_paths(resolve_kb(str(kb_dir)))
    catalog = open_catalog_for_read(paths)
    if catalog is None:
        raise Failed("no index to check")
    walls, cpus = [], []
    try:
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            if _current_state_if_stale(paths, catalog, {}, {}) is not None:
                raise Failed("the freshness check says an up-to-date index is stale")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    finally:
        catalog.close()
    return {"wall": summary_ms(walls), "cpu": summary_ms(cpus)}


# --------------------------------------------------------------------------- baselines

def cpu_seconds() -> float:
    import resource  # noqa: PLC0415  (POSIX only, like the rest of the memory probes)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fts5_build(corpus: Path, db: Path) -> dict:
    started, cpu = time.perf_counter(), cpu_seconds()
    con = sqlite3.connect(db)
    con.execute("CREATE VIRTUAL TABLE t USING fts5(path UNINDEXED, body, tokenize='porter unicode61')")
    with con:
        con.executemany("INSERT INTO t(path, body) VALUES (?, ?)",
                        ((str(p.relative_to(corpus)), p.read_text("utf-8", "replace"))
                         for p in article_paths(corpus)))
    con.close()
    return {"build_s": time.perf_counter() - started, "cpu_s": cpu_seconds() - cpu, "bytes": db.stat().st_size}


# --------------------------------------------------------------------------- one size

class SizeBench:
    """All measurements for one corpus size; results land in self.out."""

    def __init__(self, count: int, work: Path, args, healthkb: list[str], env: dict) -> None:
        self.n, self.work, self.args, self.hk_cmd, self.env = count, work, args, healthkb, env
        self.kb = work / f"kb-{count}"
        self.out: dict = {"articles": count, "errors": {}, "samples": {}}
        self.reps = args.repeat

    def hk(self, *argv: str) -> list[str]:
        return [*self.hk_cmd, "--kb", str(self.kb), *argv]

    def attempt(self, name: str, func) -> None:
        try:
            func()
        except Exception as exc:  # noqa: BLE001  (any failure is a result to record, not a crash)
            self.out["errors"][name] = f"{type(exc).__name__}: {exc}"
            log(f"  {name}: n/a ({str(exc)[:150]})")

    def execute(self) -> dict:
        log(f"size {self.n}: make_corpus")
        result = checked(run([sys.executable, str(SCRIPTS / "make_corpus.py"), str(self.n), str(self.kb),
                              "--seed", str(self.args.seed), "--shape", self.args.shape], self.env, timeout=3600))
        paths = article_paths(self.kb)
        self.out["corpus"] = {"files": len(paths), "bytes": sum(p.stat().st_size for p in paths),
                              "make_corpus_s": result["seconds"]}
        self.queries, self.words = choose_queries(self.kb, self.n)
        self.out["queries"] = [{"kind": k, "query": q} for k, q in self.queries]
        run(["grep", "-rli", "zzzz", str(self.kb)], self.env)  # page cache warm for everyone
        self.attempt("help", self.bench_help)
        self.attempt("init", lambda: checked(run(self.hk("init", str(self.kb)), self.env)))
        self.attempt("reindex_full", self.bench_full_reindex)
        self.attempt("fts5_build", self.bench_fts5_build)
        self.attempt("stock_whoosh", self.bench_stock_whoosh)
        self.attempt("rounds", self.bench_rounds)
        self.attempt("search_inproc", self.bench_search_inproc)
        self.attempt("fts5_inproc", self.bench_fts5_inproc)
        self.attempt("show_links", self.bench_show_links)
        self.attempt("freshness_check", lambda: self.out.__setitem__("freshness_check", bench_freshness(self.kb)))
        self.attempt("link_resolution", lambda: self.out.__setitem__("link_resolution", bench_links(self.kb)))
        self.attempt("vocabulary", self.bench_vocabulary)
        self.attempt("search_imports", self.bench_search_imports)
        self.attempt("incremental", self.bench_incremental)
        self.attempt("long_question", lambda: self.out.update(bench_long_question(self)))
        self.out["ratios"] = self.ratios()
        return self.out

    def bench_help(self) -> None:
        times = []
        for _ in range(max(self.reps, 5)):
            result = checked(run([*self.hk_cmd, "--help"], self.env))
            if "Usage" not in result["stdout"]:
                raise Failed(f"--help printed no usage: {result['stdout'][:100]!r}")
            times.append(result["seconds"])
        self.out["help"] = summary_ms(times)

    def bench_full_reindex(self) -> None:
        log(f"size {self.n}: healthkb reindex --full")
        result = checked(run(self.hk("reindex", "--full", "--json"), self.env,
                             timeout=max(900, self.n / 20), sample_memory=True))
        report = parse_json(result, "added")
        state = self.kb / ".healthkb"
        index_bytes = tree_bytes(state)
        whoosh_bytes = sum(tree_bytes(d) for d in state.glob("whoosh-*"))
        catalog_bytes = sum(p.stat().st_size for p in state.glob("catalog.sqlite*"))
        corpus_bytes = self.out["corpus"]["bytes"]
        self.out["reindex_full"] = {
            "seconds": result["seconds"], "articles_per_s": self.n / result["seconds"],
            "cpu_s": result["cpu_s"], "whoosh_bytes": whoosh_bytes, "catalog_bytes": catalog_bytes,
            "whoosh_ratio": whoosh_bytes / corpus_bytes, "catalog_ratio": catalog_bytes / corpus_bytes,
            "max_rss_mb": result["max_rss_kb"] / 1024, "tree_pss_mb": result["tree_pss_kb"] / 1024,
            "added": report.get("added"), "skipped": len(report.get("skipped") or []),
            "index_bytes": index_bytes, "index_ratio": index_bytes / corpus_bytes,
        }
        if report.get("added") != self.n:
            self.out["errors"]["reindex_full_count"] = f"added {report.get('added')} of {self.n}"

    def bench_fts5_build(self) -> None:
        log(f"size {self.n}: FTS5 build")
        self.db = self.work / f"fts5-{self.n}.db"
        self.db.unlink(missing_ok=True)
        built = fts5_build(self.kb, self.db)
        self.out["fts5"] = {**built, "docs_per_s": self.n / built["build_s"],
                            "size_ratio": built["bytes"] / self.out["corpus"]["bytes"]}

    def bench_stock_whoosh(self) -> None:
        for label, mode in STOCK_WHOOSH_MODES.items():
            log(f"size {self.n}: stock Whoosh build ({mode})")
            out = self.work / f"{label}-{self.n}"
            shutil.rmtree(out, ignore_errors=True)
            result = checked(run([sys.executable, "-c", STOCK_WHOOSH_CODE, str(self.kb), str(out), mode], self.env,
                                 timeout=max(900, self.n / 10)))
            self.out[label] = {"seconds": result["seconds"], "cpu_s": result["cpu_s"],
                               "max_rss_mb": result["max_rss_kb"] / 1024,
                               "size_ratio": tree_bytes(out) / self.out["corpus"]["bytes"]}
            shutil.rmtree(out, ignore_errors=True)

    def bench_rounds(self) -> None:
        """Whole-process probes, interleaved round by round so drift hits all alike."""
        log(f"size {self.n}: whole-process searches, grep, rg, FTS5 ({self.reps} rounds)")
        # grep -rli finds the letters anywhere; -w asks for the word, as a
        # search does (issue 15 compares with grep -rliw).
        probes = {"grep": lambda w: ["grep", "-rli", "--exclude-dir=.healthkb", w, str(self.kb)],
                  "grep_w": lambda w: ["grep", "-rliw", "--exclude-dir=.healthkb", w, str(self.kb)]}
        if shutil.which("rg"):
            probes["rg"] = lambda w: ["rg", "-li", w, str(self.kb)]
        if getattr(self, "db", None):
            probes["fts5_process"] = lambda w: [sys.executable, "-c", FTS5_PROCESS_CODE, str(self.db), w]
        search_ok = True
        try:
            parse_json(checked(run(self.hk("search", "--json", "lumbar"), self.env), (0, 1)), "hits")
        except Failed as exc:
            self.out["errors"]["search_process"] = str(exc)
            search_ok = False
        samples: dict[str, list] = {name: [] for name in [*probes, "search"]}
        for _ in range(self.reps):
            if search_ok:
                for kind, query in self.queries:
                    result = run(self.hk("search", query), self.env)
                    if result["rc"] not in (0, 1):
                        self.out["errors"].setdefault("search_process", f"{query!r}: exit {result['rc']}: "
                                                      f"{result['stderr'][-300:]}")
                        continue
                    samples["search"].append((kind, query, result["seconds"], result["rc"]))
            for name, make in probes.items():
                for word in self.words:
                    result = checked(run(make(word), self.env), (0, 1))
                    hits = len(result["stdout"].splitlines())
                    samples[name].append(("word", word, result["seconds"], hits))
        self.out["samples"].update(samples)
        for name, rows in samples.items():
            if rows:
                self.out[name] = summary_ms([r[2] for r in rows])
        words = [r[2] for r in samples["search"] if r[0] == "word"]
        if words:
            self.out["search_words"] = summary_ms(words)
        self.out["grep_hits"] = {w: h for _, w, _, h in samples["grep"]}

    def bench_search_inproc(self) -> None:
        search = open_warm_searcher(self.kb)
        search("lumbar")  # warm: first query pays for opening files
        all_times, word_times = [], []
        for _ in range(self.reps):
            for kind, query in self.queries:
                started = time.perf_counter()
                search(query)
                elapsed = time.perf_counter() - started
                all_times.append(elapsed)
                if kind == "word":
                    word_times.append(elapsed)
        self.out["search_inproc"] = summary_ms(all_times)
        self.out["search_inproc_words"] = summary_ms(word_times)

    def bench_fts5_inproc(self) -> None:
        con = sqlite3.connect(self.db)
        for label, sql in (("fts5_query", FTS5_QUERY), ("fts5_snippet", FTS5_SNIPPET_QUERY)):
            con.execute(sql, (self.words[0],)).fetchall()
            times = []
            for _ in range(self.reps):
                for word in self.words:
                    started = time.perf_counter()
                    con.execute(sql, (word,)).fetchall()
                    times.append(time.perf_counter() - started)
            self.out[label] = summary_ms(times)
        con.close()

    def bench_show_links(self) -> None:
        ref = article_paths(self.kb)[self.n // 3].relative_to(self.kb).with_suffix("").as_posix()
        self.out["show_links_ref"] = ref
        for label, argv in (("show", ("show", ref, "--no-pager")), ("links", ("links", ref))):
            try:
                parse_json(checked(run(self.hk(*argv[:2], "--json"), self.env)), "id")
                times = [checked(run(self.hk(*argv), self.env))["seconds"] for _ in range(max(self.reps, 5))]
                self.out[label] = summary_ms(times)
            except Failed as exc:
                self.out["errors"][label] = str(exc)

    def bench_search_imports(self) -> None:
        """Import time of a `search` process by package (-X importtime self times
        summed, best of 5 runs).  With PYTHONDONTWRITEBYTECODE set, healthkb's
        modules are compiled on every run and count more than they would."""
        best: dict[str, float] = {}
        for _ in range(5):
            result = run([sys.executable, "-X", "importtime", "-m", "healthkb", "--kb", str(self.kb),
                          "search", "lumbar"], self.env)
            totals: dict[str, float] = {}
            for line in result["stderr"].splitlines():
                parts = line.split("|")
                if not line.startswith("import time:") or len(parts) != 3 or not parts[0].split(":")[1].strip().isdigit():
                    continue
                package = parts[2].strip().split(".")[0]
                group = package if package in ("click", "whoosh", "healthkb") else "other"
                totals[group] = totals.get(group, 0.0) + int(parts[0].split(":")[1]) / 1000
            totals["total"] = sum(totals.values())
            best = {k: min(v, best.get(k, v)) for k, v in totals.items()}
        self.out["search_imports"] = {f"{k}_ms": v for k, v in best.items()} | {
            "bytecode_cached": not self.env.get("PYTHONDONTWRITEBYTECODE")}

    def bench_vocabulary(self) -> None:
        result = checked(run([sys.executable, "-c", VOCABULARY_CODE], self.env))
        self.out["vocabulary"] = json.loads(result["stdout"].strip().splitlines()[-1])

    def timed_reindex(self, label: str, expect: str, change) -> None:
        times, reports, peaks = [], [], []
        for rep in range(self.reps):
            change(rep)
            result = checked(run(self.hk("reindex", "--json"), self.env, timeout=900, sample_memory=True))
            report = parse_json(result, "added", "updated", "removed")
            times.append(result["seconds"])
            peaks.append(result["max_rss_kb"] / 1024)
            reports.append({k: report.get(k) for k in ("added", "updated", "removed")})
            if expect and report.get(expect) != 1:
                self.out["errors"][f"{label}_count"] = f"expected {expect}=1, got {reports[-1]}"
        self.out[label] = {"seconds": statistics.median(times), "all_s": times, "reports": reports,
                           "max_rss_mb": max(peaks)}

    def bench_incremental(self) -> None:
        log(f"size {self.n}: incremental reindex")
        paths = article_paths(self.kb)
        gen = make_corpus.ProseGenerator()

        def edit(path: Path, tag: str) -> None:
            text = path.read_text("utf-8")
            end = text.index(" |\n")
            path.write_text(f"{text[:end]} Benchmark edit {tag}.{text[end:]}", "utf-8")

        self.timed_reindex("reindex_nochange", "", lambda rep: None)
        self.timed_reindex("reindex_change1", "updated", lambda rep: edit(paths[rep * 7 + 1], f"c{rep}"))
        self.timed_reindex("reindex_add1", "added", lambda rep: add_article(self.kb, gen, str(rep)))
        self.timed_reindex("reindex_remove1", "removed", lambda rep: paths[-(rep * 7 + 1)].unlink())

        def edit_opening(path: Path, tag: str) -> None:  # a new first sentence: teasers may follow it
            text = path.read_text("utf-8")
            path.write_text(f"Benchmark opening {tag} about sleep and joints. {text}", "utf-8")
        self.timed_reindex("reindex_opening1", "updated", lambda rep: edit_opening(paths[rep * 7 + 5], f"o{rep}"))
        times = []
        for rep in range(self.reps):  # a reading command right after an edit brings the index up to date
            edit(paths[rep * 7 + 3], f"s{rep}")
            times.append(checked(run(self.hk("search", "lumbar"), self.env), (0, 1))["seconds"])
        self.out["search_after_change"] = {"seconds": statistics.median(times), "all_s": times}

    def ratios(self) -> dict:
        def get(key: str, field: str):
            value = self.out.get(key)
            return value.get(field) if isinstance(value, dict) else None

        def ratio(a, b):
            return a / b if a is not None and b else None
        return {
            "search_words_over_grep": ratio(get("search_words", "p50_ms"), get("grep", "p50_ms")),
            "search_words_over_grep_w": ratio(get("search_words", "p50_ms"), get("grep_w", "p50_ms")),
            "search_words_over_rg": ratio(get("search_words", "p50_ms"), get("rg", "p50_ms")),
            "search_words_over_fts5_process": ratio(get("search_words", "p50_ms"), get("fts5_process", "p50_ms")),
            "build_over_fts5_build": ratio(get("reindex_full", "seconds"), get("fts5", "build_s")),
            "build_cpu_over_whoosh_procs2": ratio(get("reindex_full", "cpu_s"), get("whoosh_procs2", "cpu_s")),
            "build_cpu_over_whoosh_single": ratio(get("reindex_full", "cpu_s"), get("whoosh_single", "cpu_s")),
            "build_cpu_over_fts5": ratio(get("reindex_full", "cpu_s"), get("fts5", "cpu_s")),
            "query_inproc_over_fts5_query": ratio(get("search_inproc_words", "p50_ms"), get("fts5_query", "p50_ms")),
        }


# --------------------------------------------------------------------------- report

ROWS = [  # (label, key, field, format)
    ("corpus: files", "corpus", "files", "{:.0f}"), ("corpus: MB", "corpus", "bytes", "MB"),
    ("make_corpus s", "corpus", "make_corpus_s", "{:.1f}"),
    ("reindex --full s", "reindex_full", "seconds", "{:.1f}"),
    ("reindex --full articles/s", "reindex_full", "articles_per_s", "{:.0f}"),
    ("reindex --full peak RSS MB (largest process)", "reindex_full", "max_rss_mb", "{:.0f}"),
    ("reindex --full peak PSS MB (process tree)", "reindex_full", "tree_pss_mb", "{:.0f}"),
    ("reindex --full CPU s (all processes)", "reindex_full", "cpu_s", "{:.1f}"),
    ("index size / corpus", "reindex_full", "index_ratio", "{:.2f}"),
    ("  Whoosh index / corpus", "reindex_full", "whoosh_ratio", "{:.2f}"),
    ("  catalog / corpus", "reindex_full", "catalog_ratio", "{:.2f}"),
    ("stock Whoosh, one writer: build CPU s", "whoosh_single", "cpu_s", "{:.1f}"),
    ("stock Whoosh, one writer: build s", "whoosh_single", "seconds", "{:.1f}"),
    ("stock Whoosh procs=2 multisegment: build CPU s", "whoosh_procs2", "cpu_s", "{:.1f}"),
    ("stock Whoosh procs=2 multisegment: build s", "whoosh_procs2", "seconds", "{:.1f}"),
    ("stock Whoosh procs=2: index / corpus", "whoosh_procs2", "size_ratio", "{:.2f}"),
    ("reindex, nothing changed s", "reindex_nochange", "seconds", "{:.2f}"),
    ("reindex after changing 1 s", "reindex_change1", "seconds", "{:.2f}"),
    ("reindex after adding 1 s", "reindex_add1", "seconds", "{:.2f}"),
    ("reindex after removing 1 s", "reindex_remove1", "seconds", "{:.2f}"),
    ("reindex after a new first sentence s", "reindex_opening1", "seconds", "{:.2f}"),
    ("  peak RSS MB: change", "reindex_change1", "max_rss_mb", "{:.0f}"),
    ("  peak RSS MB: add", "reindex_add1", "max_rss_mb", "{:.0f}"),
    ("  peak RSS MB: remove", "reindex_remove1", "max_rss_mb", "{:.0f}"),
    ("  peak RSS MB: first sentence", "reindex_opening1", "max_rss_mb", "{:.0f}"),
    ("search right after a change s", "search_after_change", "seconds", "{:.2f}"),
    ("link resolution s (in-process)", "link_resolution", "resolve_s", "{:.2f}"),
    ("search, process, all queries p50 ms", "search", "p50_ms", "{:.0f}"),
    ("search, process, all queries p95 ms", "search", "p95_ms", "{:.0f}"),
    ("search, process, single words p50 ms", "search_words", "p50_ms", "{:.0f}"),
    ("search, in-process warm p50 ms", "search_inproc", "p50_ms", "{:.1f}"),
    ("search, process, 30-word question p50 ms", "long_question", "p50_ms", "{:.0f}"),
    ("ratio: 30-word question / one word (process, p50)", "long_question", "over_one_word", "{:.2f}"),
    ("search, in-process warm p95 ms", "search_inproc", "p95_ms", "{:.1f}"),
    ("healthkb --help p50 ms", "help", "p50_ms", "{:.0f}"),
    ("healthkb show p50 ms", "show", "p50_ms", "{:.0f}"),
    ("healthkb links p50 ms", "links", "p50_ms", "{:.0f}"),
    ("vocabulary load ms (cold)", "vocabulary", "load_ms", "{:.1f}"),
    ("search process imports ms: all", "search_imports", "total_ms", "{:.0f}"),
    ("  of which click", "search_imports", "click_ms", "{:.0f}"),
    ("  of which whoosh", "search_imports", "whoosh_ms", "{:.0f}"),
    ("  of which healthkb", "search_imports", "healthkb_ms", "{:.0f}"),
    ("  of which the standard library (own time)", "search_imports", "other_ms", "{:.0f}"),
    ("grep -rli p50 ms", "grep", "p50_ms", "{:.0f}"),
    ("grep -rli p95 ms", "grep", "p95_ms", "{:.0f}"),
    ("grep -rliw p50 ms", "grep_w", "p50_ms", "{:.0f}"),
    ("rg -li p50 ms", "rg", "p50_ms", "{:.0f}"),
    ("FTS5 build s (reading files included)", "fts5", "build_s", "{:.1f}"),
    ("FTS5 build docs/s", "fts5", "docs_per_s", "{:.0f}"),
    ("FTS5 build CPU s", "fts5", "cpu_s", "{:.1f}"),
    ("FTS5 db size / corpus", "fts5", "size_ratio", "{:.2f}"),
    ("FTS5 query in-process p50 ms", "fts5_query", "p50_ms", "{:.2f}"),
    ("FTS5 query in-process p95 ms", "fts5_query", "p95_ms", "{:.2f}"),
    ("FTS5 query + snippet in-process p50 ms", "fts5_snippet", "p50_ms", "{:.2f}"),
    ("FTS5 query, process p50 ms", "fts5_process", "p50_ms", "{:.0f}"),
    ("ratio: search / grep (single words, p50)", "ratios", "search_words_over_grep", "{:.2f}"),
    ("ratio: search / grep -w (single words, p50)", "ratios", "search_words_over_grep_w", "{:.2f}"),
    ("ratio: search / rg (single words, p50)", "ratios", "search_words_over_rg", "{:.2f}"),
    ("ratio: search / FTS5 process (single words, p50)", "ratios", "search_words_over_fts5_process", "{:.2f}"),
    ("ratio: reindex --full / FTS5 build", "ratios", "build_over_fts5_build", "{:.2f}"),
    ("ratio: build CPU / stock Whoosh procs=2", "ratios", "build_cpu_over_whoosh_procs2", "{:.2f}"),
    ("ratio: build CPU / stock Whoosh one writer", "ratios", "build_cpu_over_whoosh_single", "{:.2f}"),
    ("ratio: build CPU / FTS5 build CPU", "ratios", "build_cpu_over_fts5", "{:.2f}"),
    ("ratio: in-process query / FTS5 query (p50)", "ratios", "query_inproc_over_fts5_query", "{:.1f}"),
]


def cell(result: dict, key: str, field: str, fmt: str) -> str:
    value = result.get(key, {}).get(field) if isinstance(result.get(key), dict) else None
    if value is None:
        return "n/a"
    return f"{value / 1e6:.1f}" if fmt == "MB" else fmt.format(value)


def targets(result: dict) -> dict:
    """The speed targets of the index issue, met / missed / n/a for this size."""
    def val(key, field):
        v = result.get(key)
        return v.get(field) if isinstance(v, dict) else None

    def check(value, ok):
        return "n/a" if value is None else ("met" if ok(value) else "missed")
    n = result["articles"]
    memory = val("reindex_full", "tree_pss_mb") or val("reindex_full", "max_rss_mb")
    return {
        "full build >= 1,000 articles/s": check(val("reindex_full", "articles_per_s"), lambda v: v >= 1000),
        "reindex after changing 1 <= 0.5 s": check(val("reindex_change1", "seconds"), lambda v: v <= 0.5),
        "search WORD p50 <= 70 ms (100 ms at 100k)":
            check(val("search_words", "p50_ms"), lambda v: v <= (100 if n >= 100_000 else 70)),
        "search WORD <= 0.8 x grep -rliw": check(val("ratios", "search_words_over_grep_w"), lambda v: v <= 0.8),
        "peak memory while building <= 300 MB": check(memory, lambda v: v <= 300),
        "index size <= 1.5 x corpus": check(val("reindex_full", "index_ratio"), lambda v: v <= 1.5),
        # issue 15
        "build CPU <= 0.8 x stock Whoosh procs=2": check(val("ratios", "build_cpu_over_whoosh_procs2"),
                                                         lambda v: v <= 0.8),
        "full build >= 500 articles/s": check(val("reindex_full", "articles_per_s"), lambda v: v >= 500),
        "index + catalog <= 1.2 x corpus": check(val("reindex_full", "index_ratio"), lambda v: v <= 1.2),
        "build: largest process <= 250 MB": check(val("reindex_full", "max_rss_mb"), lambda v: v <= 250),
        "build: process tree <= 600 MB": check(val("reindex_full", "tree_pss_mb"), lambda v: v <= 600),
        "add / remove / first sentence <= 0.5 s": check(
            max((val(k, "seconds") or 0) for k in ("reindex_add1", "reindex_remove1", "reindex_opening1")) or None,
            lambda v: v <= 0.5),
    }


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((line.split()[1] for line in _read("/proc/meminfo").splitlines()
                if line.startswith("MemTotal")), "0")
    grep = subprocess.run(["grep", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(int(mem) / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "grep": grep, "rg": shutil.which("rg")}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def find_healthkb(option: str | None) -> list[str]:
    if option:
        return shlex.split(option)
    beside = Path(sys.executable).parent / "healthkb"  # the venv's console script
    if beside.exists():
        return [str(beside)]
    found = shutil.which("healthkb")
    return [found] if found else [sys.executable, "-m", "healthkb"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated corpus sizes (default 1000,10000)")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"), help="where to write the results")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each timed query (default 3)")
    parser.add_argument("--keep", type=Path, help="keep corpora, KBs and FTS5 dbs in this folder")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--shape", choices=sorted(make_corpus.SHAPES), default="plain",
                        help="corpus shape: medquad = many articles open with the same boilerplate sentence")
    parser.add_argument("--healthkb", help="command to run healthkb (default: the console script)")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    healthkb = find_healthkb(args.healthkb)
    work = args.keep or Path(tempfile.mkdtemp(prefix="healthkb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    # PYTHONDONTWRITEBYTECODE (set in some dev shells) would make every child
    # recompile healthkb from source: an installed package never pays that.
    env = {k: v for k, v in os.environ.items() if k not in ("HEALTHKB_KB", "HEALTHKB_DEBUG", "PYTHONDONTWRITEBYTECODE")}
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(work / "xdg" / var.lower())  # never touch the real home
    report = {"schema": 1, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
              "healthkb": healthkb, "repeat": args.repeat, "seed": args.seed, "shape": args.shape,
              "load_average": os.getloadavg(), "sizes": {}}
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` cleans up
    try:
        for count in sizes:
            for stale in (work / f"kb-{count}", work / f"fts5-{count}.db"):
                shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
            result = SizeBench(count, work, args, healthkb, env).execute()
            result["targets"] = targets(result)
            report["sizes"][str(count)] = result
    finally:
        for group in list(RUNNING):
            _kill_group(group)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["total_seconds"] = time.perf_counter() - started
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", "utf-8")
    results = list(report["sizes"].values())
    headers = ["measure", *[f"{r['articles']:,}" for r in results]]
    print(tabulate([[label, *[cell(r, key, field, fmt) for r in results]] for label, key, field, fmt in ROWS],
                   headers=headers, colalign=("left", *["right"] * len(results))))
    print()
    print(tabulate([[goal, *[r["targets"][goal] if goal in r["targets"] else "n/a" for r in results]]
                    for goal in results[0]["targets"]] if results else [], headers=["target", *headers[1:]]))
    m = report["machine"]
    print(f"\n{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, "
          f"SQLite {m['sqlite']}; total {report['total_seconds']:.0f} s; JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
