"""Crash safety (SPEC §3, issue 8): a writer killed at any moment never
changes an article, never leaves an index that needs repair by hand, and
never leaves a process behind.

The kill loops run real ``healthkb`` processes on a synthetic KB large enough
for the full build to go through the shard worker processes, kill them with
SIGKILL after a random delay drawn from the measured length of a run, and
then check: every article file byte for byte, ``search`` answering (exit 0 or
1, no traceback), the next ``reindex`` bringing the index to exactly one
document per file, and no healthkb process outliving the killed one.  They
are marked ``slow`` (deselect with ``-m 'not slow'``).

The other tests lay down, deterministically, what a killed writer can leave
behind (a half-built generation, temporary files, a damaged resolver cache,
a shard that only a writer finds damaged) and check that the next command
copes with it without a word from the user.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from healthkb.cli import main
from healthkb.files import STATE_DIR_NAME
from healthkb.index.api import open_index
from healthkb.kb import KB

REPO_DIR = Path(__file__).resolve().parents[1]
MAKE_CORPUS = REPO_DIR / "scripts" / "make_corpus.py"
CORPUS_SIZE = 850  # over PARALLEL_MIN_DOCS (800): the full build starts shard workers
BODY_WORDS = 120  # synthetic bodies cut to this, so that a full build takes ~2 s here
FULL_KILLS = 11
ADD_KILLS = 9  # 20 kills in all: the slow set stays under a minute here
ADD_BATCH = 50  # full-length articles: `add` runs ~1 s, most of it the index update
WORKER_GRACE = 5.0  # seconds for orphaned workers to die (PR_SET_PDEATHSIG, or EOF on their pipe)
SEED = int(os.environ.get("HEALTHKB_KILL_SEED", "20240508"))
MULTI_CPU = (os.cpu_count() or 1) > 1


# ---------------------------------------------------------------- helpers


def healthkb(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "healthkb", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run healthkb in this process, as the console script does: for the
    deterministic tests, where a separate process would prove nothing more."""
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _mixed):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return subprocess.CompletedProcess(args, code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8"))


def assert_clean(done: subprocess.CompletedProcess, codes=(0,)) -> None:
    assert done.returncode in codes, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr


def healthkb_processes(marker: str) -> list[tuple[int, str]]:
    """(pid, command line) of live processes running healthkb on ``marker``'s
    KB: the CLI itself (``--kb`` is on its command line) and shard workers
    (their shard folder is)."""
    found = []
    try:
        import psutil  # not a dependency; used when present
    except ImportError:
        psutil = None
    if psutil is not None:
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            line = " ".join(proc.info["cmdline"] or [])
            if proc.info["status"] != psutil.STATUS_ZOMBIE and "healthkb" in line and marker in line:
                found.append((proc.info["pid"], line))
        return [f for f in found if f[0] != os.getpid()]
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            raw = Path("/proc", entry, "cmdline").read_bytes()  # empty for a zombie
        except OSError:
            continue
        if b"healthkb" in raw and marker.encode() in raw:
            found.append((int(entry), raw.replace(b"\0", b" ").decode("utf-8", "replace")))
    return found


def wait_for_no_processes(marker: str, grace: float = WORKER_GRACE) -> list[tuple[int, str]]:
    deadline = time.monotonic() + grace
    left = healthkb_processes(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = healthkb_processes(marker)
    return left


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file in the KB (the index folder aside)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != STATE_DIR_NAME]
        for name in names:
            path = Path(folder, name)
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def article_ids(root: Path) -> set[str]:
    return {
        p.relative_to(root).with_suffix("").as_posix()
        for p in root.rglob("*.txt")
        if STATE_DIR_NAME not in p.parts and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def assert_index_matches_files(root: Path) -> None:
    """Whoosh documents == catalog rows == article files, same ids (read without updating)."""
    files = article_ids(root)
    with open_index(KB(root.resolve(), "option"), refresh=False) as ix:
        docs, rows = ix.searcher().doc_count(), ix.catalog.count()
        assert docs == rows == len(files), (docs, rows, len(files))
        assert {row_id for row_id, _title in ix.catalog.id_titles()} == files


def make_synthetic(count: int, folder: Path, seed: int, body_words: int | None = BODY_WORDS) -> Path:
    """``count`` articles from scripts/make_corpus.py, bodies cut to ``body_words``
    words (the footers and the first 49 characters that teasers quote stay)."""
    subprocess.run([sys.executable, str(MAKE_CORPUS), str(count), str(folder), "--seed", str(seed)],
                   check=True, capture_output=True, timeout=120)
    for path in folder.rglob("*.txt") if body_words else ():
        lines = path.read_text(encoding="utf-8").split("\n")
        words = lines[0].removesuffix(" |").split(" ")
        lines[0] = " ".join(words[:body_words]) + " |"
        path.write_text("\n".join(lines), encoding="utf-8")
    return folder


@dataclass
class Corpus:
    root: Path  # built KB with its index: copy it, never change it
    full_seconds: float  # how long one `reindex --full` took
    shards: int
    extra: Path  # articles for `add`, not in the KB


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    base = tmp_path_factory.mktemp("crash-corpus")
    env = {**os.environ, "HOME": str(base / "home"), "XDG_DATA_HOME": str(base / "data"),
           "XDG_CACHE_HOME": str(base / "cache"), "HEALTHKB_KB": str(base / "kb")}
    root = make_synthetic(CORPUS_SIZE, base / "kb", seed=5)
    extra = make_synthetic(ADD_BATCH, base / "extra", seed=11, body_words=None)
    assert_clean(healthkb("--version", env=env))  # warm the byte-code caches first
    started = time.monotonic()
    assert_clean(healthkb("reindex", "--full", env=env))  # the first build: a full one
    full_seconds = time.monotonic() - started
    stats = json.loads(healthkb("stats", "--json", env=env).stdout)
    assert stats["articles"] == CORPUS_SIZE
    if MULTI_CPU:
        assert stats["shards"] >= 2, "the kill tests must run while shard workers exist"
    return Corpus(root, full_seconds, stats["shards"], extra)


def copy_kb(corpus: Corpus, target: Path) -> Path:
    # copytree keeps mtimes, so the copied index is up to date with the copy.
    shutil.copytree(corpus.root, target, symlinks=True, dirs_exist_ok=True)
    return target


@dataclass
class KillLog:
    """What the loop did, for the assertion messages and the summary line."""

    seed: int
    observed: float
    runs: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"seed={self.seed} observed run={self.observed:.2f} s"]
        lines += [json.dumps(run) for run in self.runs]
        return "\n".join(lines)


def kill_after(command: list[str], delay: float, marker: str) -> dict:
    """Start ``command``, SIGKILL it after ``delay`` seconds; report what was alive."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        pass
    workers = [pid for pid, line in healthkb_processes(marker) if "healthkb.index.workers" in line]
    proc.kill()
    proc.communicate(timeout=30)
    return {"delay": round(delay, 3), "killed": proc.returncode == -signal.SIGKILL, "workers_at_kill": len(workers)}


def check_after_kill(root: Path, marker: str, before: dict[str, str], log: KillLog, run: dict) -> None:
    left = wait_for_no_processes(marker)
    assert left == [], f"processes outlived the killed one: {left}\n{log}"
    after = file_hashes(root)
    changed = [rel for rel, digest in before.items() if after.get(rel) != digest]
    assert changed == [], f"article files changed or vanished: {changed[:5]}\n{log}"
    run["new_files"] = len(set(after) - set(before))
    searched = healthkb("--kb", str(root), "search", "lumbar", "--json", "--limit", "3")
    assert_clean(searched, codes=(0, 1))
    if searched.returncode == 0:
        assert json.loads(searched.stdout)["hits"]
    reindexed = healthkb("--kb", str(root), "reindex", "--json")
    assert_clean(reindexed)
    run["notices"] = [line for line in reindexed.stderr.splitlines() if line.startswith("healthkb:")]
    assert_index_matches_files(root)


# ---------------------------------------------------------------- the kill loops


@pytest.mark.slow
def test_kill_9_during_reindex_full(corpus, tmp_path):
    root = copy_kb(corpus, tmp_path / "kb")
    marker = str(root)
    before = file_hashes(root)
    rng = random.Random(SEED)
    log = KillLog(SEED, corpus.full_seconds)
    command = [sys.executable, "-m", "healthkb", "--kb", str(root), "reindex", "--full"]
    for _ in range(FULL_KILLS):
        run = kill_after(command, rng.uniform(0, corpus.full_seconds), marker)
        log.runs.append(run)
        check_after_kill(root, marker, before, log, run)
        assert run["new_files"] == 0, f"a reindex wrote into the KB\n{log}"
    assert file_hashes(root) == before
    killed = [run for run in log.runs if run["killed"]]
    assert len(killed) >= FULL_KILLS // 2, f"most runs must die before they finish\n{log}"
    if MULTI_CPU:
        assert any(run["workers_at_kill"] for run in killed), f"no kill hit the shard workers\n{log}"
    # A finished rebuild after all that leaves exactly one generation.
    assert_clean(healthkb("--kb", str(root), "reindex", "--full"))
    assert len(list((root / STATE_DIR_NAME).glob("whoosh-*"))) == 1
    assert_index_matches_files(root)
    print(f"\n{len(killed)}/{FULL_KILLS} reindex --full runs killed (observed run {corpus.full_seconds:.2f} s)\n{log}")


@pytest.mark.slow
def test_kill_9_during_add(corpus, tmp_path):
    root = copy_kb(corpus, tmp_path / "kb")
    marker = str(root)
    sources = sorted(corpus.extra.rglob("*.txt"))
    source_bytes = {p.name: p.read_bytes() for p in sources}
    started = time.monotonic()
    assert_clean(healthkb("--kb", str(root), "add", "--into", "probe", *map(str, sources)))
    observed = time.monotonic() - started
    rng = random.Random(SEED + 1)
    log = KillLog(SEED + 1, observed)
    for number in range(ADD_KILLS):
        before = file_hashes(root)
        folder = f"batch-{number}"
        command = [sys.executable, "-m", "healthkb", "--kb", str(root), "add", "--into", folder, *map(str, sources)]
        run = kill_after(command, rng.uniform(0, observed), marker)
        log.runs.append(run)
        # Each article that arrived is whole: never a truncated copy.
        arrived = sorted((root / folder).glob("*.txt")) if (root / folder).is_dir() else []
        run["arrived"] = len(arrived)
        for path in arrived:
            assert path.read_bytes() == source_bytes[path.name], f"{path} is not a complete copy\n{log}"
        check_after_kill(root, marker, before, log, run)
    assert sum(run["killed"] for run in log.runs) >= ADD_KILLS // 2, f"most runs must die before they finish\n{log}"
    assert_index_matches_files(root)
    print(f"\n{sum(r['killed'] for r in log.runs)}/{ADD_KILLS} add runs killed (observed run {observed:.2f} s)\n{log}")


@pytest.mark.slow
@pytest.mark.skipif(not MULTI_CPU, reason="one CPU: the build never starts shard workers")
def test_ctrl_c_during_a_sharded_build(corpus, tmp_path):
    """Ctrl-C reaches the whole foreground process group: the build stops with
    exit 130 and no worker prints a traceback (they run in their own group)."""
    root = copy_kb(corpus, tmp_path / "kb")
    marker = str(root)
    proc = subprocess.Popen([sys.executable, "-m", "healthkb", "--kb", str(root), "reindex", "--full"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any("healthkb.index.workers" in line for _pid, line in healthkb_processes(marker)):
        assert proc.poll() is None and time.monotonic() < deadline, "the build never started its workers"
        time.sleep(0.02)
    time.sleep(0.3)  # let the workers get into their work
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert wait_for_no_processes(marker) == []
    assert_clean(healthkb("--kb", str(root), "search", "lumbar"))
    assert_index_matches_files(root)


# ---------------------------------------------------------------- what a killed writer leaves


def _article(body: str, nxt: str | None = None) -> str:
    return body + " |\n" + (f">>: {nxt}\n" if nxt else "")


@pytest.fixture
def small_kb(make_kb) -> Path:
    files = {
        f"topic-{n}/note-{n}.txt": _article(f"Lumbar note number {n} about posture and sleep.", nxt=f"Note {n + 1}")
        for n in range(8)
    }
    root = make_kb(files)
    assert_clean(cli("reindex"))
    return root


def _generation(root: Path) -> int:
    with open_index(KB(root.resolve(), "option"), refresh=False) as ix:
        return int(ix.catalog.get_meta("generation"))


def _edit_body(root: Path) -> str:
    """Change one article's body (not its title or nav), as a user would."""
    path = root / "topic-3" / "note-3.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("Lumbar", "Zygapophyseal lumbar"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    return "topic-3/note-3"


def test_a_half_built_next_generation_is_ignored_then_removed(small_kb):
    generation = _generation(small_kb)
    state = small_kb / STATE_DIR_NAME
    partial = state / f"whoosh-{generation + 1}" / "shard-1"  # a build killed half-way
    partial.mkdir(parents=True)
    (partial / "MAIN_x.seg").write_bytes(os.urandom(512))
    (partial / "_MAIN_1.toc").write_bytes(b"")
    searched = cli("search", "lumbar", "--json")
    assert_clean(searched)
    assert json.loads(searched.stdout)["total"] == 8 and searched.stderr == ""
    assert_clean(cli("reindex", "--full"))
    assert [p.name for p in state.glob("whoosh-*")] == [f"whoosh-{_generation(small_kb)}"]
    assert_index_matches_files(small_kb)


def test_temporary_files_of_killed_writers_are_not_articles(small_kb):
    # `add` and the resolver cache write to a temporary name and rename.
    (small_kb / "topic-1" / ".add-k1ll3d.tmp").write_bytes(b"Half an arti")
    (small_kb / STATE_DIR_NAME / ".resolver-k1ll3d.tmp").write_bytes(b"\x80\x05half")
    listed = cli("list", "--json")
    assert_clean(listed)
    assert len(json.loads(listed.stdout)["articles"]) == 8
    checked = cli("check", "--json")
    assert_clean(checked, codes=(0, 1))
    assert ".add-" not in checked.stdout
    assert_index_matches_files(small_kb)


class _RunsCode:
    """Unpickling this object runs a shell command: what a crafted cache would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_resolver_pickle_in_the_state_folder_never_runs_code(small_kb, tmp_path):
    """Issue 13: an old healthkb read .healthkb/resolver.pickle back with
    pickle.load, so a KB shared with its .healthkb/ could run code on the
    reader's machine.  Nothing reads it now; every command ignores it."""
    import pickle

    assert_clean(cli("reindex"))
    marker = tmp_path / "code-ran"
    crafted = pickle.dumps(("stamp", _RunsCode(marker)))
    state = small_kb / STATE_DIR_NAME
    (state / "resolver.pickle").write_bytes(crafted)
    edited = _edit_body(small_kb)  # an edit that once reused the saved resolver
    for command in (["search", "zygapophyseal", "--json"], ["reindex"], ["check"], ["list"]):
        assert_clean(cli(*command), codes=(0, 1))
    _edit_body(small_kb)
    assert_clean(cli("reindex", "--full"))
    assert not marker.exists()
    assert json.loads(cli("search", "zygapophyseal", "--json").stdout)["hits"][0]["id"] == edited
    assert_index_matches_files(small_kb)


def _damage_shard(shard: Path, how: str) -> None:
    def biggest(pattern: str) -> Path:
        return max(shard.glob(pattern), key=lambda p: p.stat().st_size)

    if how == "truncated-postings":
        target = biggest("*.pst")
        os.truncate(target, target.stat().st_size // 3)
    elif how == "garbage-postings":
        target = biggest("*.pst")
        target.write_bytes(random.Random(7).randbytes(target.stat().st_size))
    elif how == "truncated-terms":
        os.truncate(biggest("*.trm"), 100)
    elif how == "garbage-terms":
        target = biggest("*.trm")
        target.write_bytes(random.Random(8).randbytes(target.stat().st_size))
    elif how == "deleted-segment":
        for path in shard.glob("*.pst"):
            path.unlink()
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize(
    ("command", "how"),
    [pytest.param(["reindex"], how, id=f"reindex-{how}")
     for how in ("truncated-postings", "garbage-postings", "truncated-terms", "garbage-terms", "deleted-segment")]
    + [pytest.param(["add"], how, id=f"add-{how}") for how in ("garbage-postings", "deleted-segment")],
)
def test_damage_that_only_a_writer_finds_is_rebuilt(small_kb, tmp_path, command, how):
    """test_index covers damage found by readers; here an incremental update
    is the first to read the damaged segment (while merging at commit)."""
    generation = _generation(small_kb)
    _damage_shard(small_kb / STATE_DIR_NAME / f"whoosh-{generation}" / "shard-0", how)
    edited = _edit_body(small_kb)
    if command == ["add"]:
        new = tmp_path / "fresh-note.txt"
        new.write_text(_article("Fresh lumbar note added after the damage."), encoding="utf-8")
        command = ["add", str(new)]
    done = cli(*command)
    assert_clean(done)
    notices = [line for line in done.stderr.splitlines() if line.startswith("healthkb:")]
    assert len(notices) == 1 and "damaged" in notices[0], done.stderr
    assert json.loads(cli("search", "zygapophyseal", "--json").stdout)["hits"][0]["id"] == edited
    again = cli("search", "lumbar", "--json")
    assert_clean(again)
    assert again.stderr == ""
    assert_index_matches_files(small_kb)


def test_a_lock_file_left_by_a_dead_writer_does_not_block(small_kb):
    # flock dies with its holder; only the text naming it stays behind.
    lock = small_kb / STATE_DIR_NAME / "write.lock"
    lock.write_bytes(b"healthkb pid 999999 on elsewhere\n\x00garbage")
    edited = _edit_body(small_kb)
    started = time.monotonic()
    done = cli("reindex", env={"HEALTHKB_LOCK_TIMEOUT": "30"})
    assert_clean(done)
    assert time.monotonic() - started < 20
    assert json.loads(cli("search", "zygapophyseal", "--json").stdout)["hits"][0]["id"] == edited


def test_a_crafted_pickle_in_the_search_index_never_runs_code(small_kb, tmp_path):
    """Issue 13: Whoosh keeps its schema as a pickle in the table of contents.
    A crafted one is refused (read as damage, the index is rebuilt) instead
    of running code."""
    import pickle

    assert_clean(cli("reindex"))
    marker = tmp_path / "code-ran"
    tocs = sorted((small_kb / STATE_DIR_NAME).glob("whoosh-*/*/_MAIN_*.toc")) or sorted(
        (small_kb / STATE_DIR_NAME).glob("whoosh-*/_MAIN_*.toc")
    )
    assert tocs
    from whoosh.filedb.structfile import StructFile

    for toc in tocs:
        # Whoosh's layout: two ints, three varints, the pickled schema as a
        # string, then the rest; only the schema is replaced.
        with open(toc, "rb") as handle:
            original = StructFile(handle)
            header = (original.read_int(), original.read_int(), [original.read_varint() for _ in range(3)])
            original.read_string()
            rest = handle.read()
        with open(toc, "wb") as handle:
            stream = StructFile(handle)
            stream.write_int(header[0])
            stream.write_int(header[1])
            for number in header[2]:
                stream.write_varint(number)
            stream.write_string(pickle.dumps(_RunsCode(marker), 2))
            handle.write(rest)
    for command in (["search", "lumbar", "--json"], ["reindex"], ["search", "lumbar"]):
        cli(*command)
    assert not marker.exists()
    assert json.loads(cli("search", "lumbar", "--json").stdout)["hits"]
    assert_index_matches_files(small_kb)


def test_the_restricted_unpickler_still_opens_a_stock_whoosh_index(tmp_path):
    """A process that reads healthkb's index (restricted unpickler installed)
    can still open a plain Whoosh index, whose schema pickles compiled
    patterns: scripts/eval_realworld.py searches its baseline in-process."""
    from whoosh import fields, index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.qparser import QueryParser

    from healthkb.index.safepickle import install

    install()
    schema = fields.Schema(id=fields.ID(stored=True), body=fields.TEXT(analyzer=StemmingAnalyzer()))
    writer = index.create_in(str(tmp_path), schema).writer()
    writer.add_document(id="a", body="Lumbar pain settles with movement.")
    writer.commit()
    with index.open_dir(str(tmp_path)).searcher() as searcher:
        hits = searcher.search(QueryParser("body", searcher.schema).parse("lumbar"))
        assert [hit["id"] for hit in hits] == ["a"]
