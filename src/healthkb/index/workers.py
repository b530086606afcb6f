"""Parallel Whoosh indexing without Whoosh's own ``procs`` workers.

Each worker process owns one *shard* (a complete Whoosh index of its own) for
the length of a full build: it receives batches of documents over a pipe
*while the parent is still reading files*, indexes them, and commits at the
end.  A document arrives with its text: a worker never opens an article, so
what it indexes is exactly what the parent hashed into the catalog.  Search
reads all shards through one ``MultiReader``, so BM25 statistics stay global.

Memory: Whoosh keeps a segment's postings in a pool of Python tuples and,
past ``limitmb``, spills them to disk and merges them back (one pickle per
posting, a third of the worker's time).  Our writers pack postings instead
(codec.TermPool, ~12 bytes each) and commit a segment whenever the pool
reaches its budget, so nothing ever spills; the budget is sized from the
memory available (:func:`segment_budget_mb`).  A shard of a few thousand
articles is one segment; larger ones hold a few, which later incremental
updates merge (codec.merge_policy).

Why not ``writer(procs=N)``: its workers inherit the index lock and outlive a
killed parent (see the hardening issue).  Ours are fresh interpreters started
with ``subprocess`` (no inherited lock file descriptor), ask the kernel to
kill them when the parent dies (``PR_SET_PDEATHSIG``), and also exit when the
pipe from the parent closes.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass

from healthkb.errors import IndexingStoppedError

BATCH_SIZE = 100  # documents per message: small enough that workers start early
QUEUE_BATCHES = 8  # batches waiting for one worker's pipe: bounds the parent's memory
# Segment budgets, in bytes of packed postings (codec.TermPool): a worker
# commits a segment when its pool reaches the budget.  Measured on
# scripts/make_corpus.py text: a shard of 5,000 articles is one segment, of
# 15,000 two; the largest process of a 30,000-article build peaked at 152 MB.
DEFAULT_SEGMENT_MB = 96
MIN_SEGMENT_MB = 8
POOL_OVERHEAD = 1.5  # resident bytes per pool byte (buffers grow ahead), with margin
MEMORY_SHARE = 0.4  # of MemAvailable, for all workers' pools together
MEMAVAILABLE_ENV = "HEALTHKB_MEMAVAILABLE_KB"  # tests simulate a machine short of memory

Doc = tuple[str, str, str]  # (id, title, body)


@dataclass(slots=True)
class ShardResult:
    """What one worker indexed into its shard."""

    indexed: int
    words: Counter
    segments: int = 1


def available_memory_kb() -> int | None:
    """MemAvailable from /proc/meminfo (or the test override); None if unknown."""
    override = os.environ.get(MEMAVAILABLE_ENV)
    if override:
        return int(override)
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def segment_budget_mb(workers: int, ceiling: int = DEFAULT_SEGMENT_MB) -> int:
    """Pool budget per worker: ``ceiling``, less when memory is short."""
    available = available_memory_kb()
    if available is None:
        return ceiling
    share = available / 1024 * MEMORY_SHARE / max(workers, 1) / POOL_OVERHEAD
    return max(MIN_SEGMENT_MB, min(ceiling, int(share)))


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGKILL to this process when its parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the closed pipe still ends the worker
    if os.getppid() == 1:
        os._exit(1)  # the parent is already gone


class SegmentedWriter:
    """Adds documents to one Whoosh index, committing a segment whenever the
    posting pool reaches ``segment_mb`` so that it never spills to disk, and
    collecting each document's folded words (for spelling) in the same pass
    that makes its terms."""

    def __init__(self, index_dir: str, segment_mb: int) -> None:
        from whoosh import index as whoosh_index

        from healthkb.index.schema import build_schema

        os.makedirs(index_dir, exist_ok=True)
        self.index = whoosh_index.create_in(index_dir, build_schema())
        # One analyzer for every segment's writer: its stem cache stays warm.
        self.analyzer = self.index.schema["body"].analyzer
        self.flush_bytes = segment_mb * 1024 * 1024
        self.words: Counter = Counter()
        self.indexed = 0
        self.segments = 0
        self.writer = self._new_writer()

    def _new_writer(self):
        from healthkb.index.codec import TermPool
        from healthkb.index.codec import writer as compact_writer

        writer = compact_writer(self.index, compound=False)
        writer.pool = TermPool()  # packed postings in memory: never spills
        writer.schema["title"].analyzer = writer.schema["body"].analyzer = self.analyzer
        return writer

    def add(self, docs: list[Doc]) -> None:
        writer, words = self.writer, self.words
        seen: set[str] = set()
        self.analyzer.word_sink = seen
        try:
            for article_id, title, body in docs:
                seen.clear()
                writer.add_document(id=article_id, title=title, body=body)
                words.update(seen)
                self.indexed += 1
                if writer.pool.currentsize >= self.flush_bytes:
                    self.writer = None  # closed by commit, even when commit fails
                    writer.commit(merge=False)
                    self.segments += 1
                    writer = self.writer = self._new_writer()
        finally:
            self.analyzer.word_sink = None

    def replace(self, docs: list[Doc]) -> None:
        """Re-index documents already added (their display title changed)."""
        from healthkb.index.codec import writer as compact_writer

        self.commit()
        writer = compact_writer(self.index, compound=False)
        for article_id, title, body in docs:
            writer.update_document(id=article_id, title=title, body=body)
        writer.commit(merge=False)

    def commit(self) -> None:
        writer, self.writer = self.writer, None  # closed by commit, even when commit fails
        if writer is not None:
            writer.commit(merge=False)
            self.segments += 1

    def cancel(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None and not writer.is_closed:
            writer.cancel()


def _send(stream, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream):
    """The next message, or raise EOFError when the other side is gone."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    # Only ever from our own parent or child process over a private pipe.
    return pickle.loads(data)  # noqa: S301


def shard_main(shard_dir: str, segment_mb: int) -> None:
    """Worker process: index batches from stdin into a new shard, then commit.

    Messages in: ``("add", docs)``, ``("replace", docs)``, then ``None``."""
    _die_with_parent()
    inbox, outbox = sys.stdin.buffer, sys.stdout.buffer
    shard = SegmentedWriter(shard_dir, segment_mb)
    try:
        while True:
            try:
                message = _receive(inbox)
            except EOFError:
                shard.cancel()
                os._exit(1)  # the parent went away: abandon the build
            if message is None:
                break
            kind, docs = message
            if kind == "add":
                shard.add(docs)
            else:
                shard.replace(docs)
            _send(outbox, ("progress", len(docs)))
        shard.commit()
        _send(outbox, ("done", ShardResult(shard.indexed, shard.words, shard.segments)))
    except OSError as exc:  # a full disk, lost permissions: the parent raises the same OSError
        _send(outbox, ("oserror", (exc.errno, exc.strerror, exc.filename)))
    except Exception as exc:  # report any failure to the parent, which raises it
        _send(outbox, ("error", f"{type(exc).__name__}: {exc}"))


def _raise_reported(kind: str, value) -> None:
    if kind == "oserror":
        raise OSError(*value)
    raise RuntimeError(value)


class ShardWorker:
    """The parent's handle on one worker process building one shard.

    A plain subprocess running ``python -m healthkb.index.workers``: unlike
    multiprocessing it never re-imports the caller's ``__main__``, and it
    inherits no file descriptors (so no lock) from the parent.  Messages go
    through a bounded queue and a writer thread, so the parent keeps reading
    files while a worker is busy, and a full pipe to one worker never keeps
    the others waiting.
    """

    def __init__(self, shard_dir: str, segment_mb: int = DEFAULT_SEGMENT_MB) -> None:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # process_group=0: a process group of its own, so Ctrl-C in the terminal
        # interrupts only the parent (which then kills us) and no worker prints
        # a KeyboardInterrupt traceback.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "healthkb.index.workers", shard_dir, str(segment_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, env=env, process_group=0,
        )
        self._outbox: queue.Queue = queue.Queue(QUEUE_BATCHES)
        # Replies are drained by a thread too: a worker blocked writing
        # progress to a full pipe would stop reading ours (a deadlock).
        self._inbox: queue.Queue = queue.Queue()
        self._broken = threading.Event()
        self._threads = [
            threading.Thread(target=self._write_all, daemon=True),
            threading.Thread(target=self._read_all, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _write_all(self) -> None:
        try:
            while True:
                message = self._outbox.get()
                _send(self.process.stdin, message)
                if message is None:
                    self.process.stdin.close()
                    return
        except (BrokenPipeError, OSError, ValueError):
            self._broken.set()  # the worker died or was killed; finish() reports it

    def _read_all(self) -> None:
        try:
            while True:
                self._inbox.put(_receive(self.process.stdout))
        except (EOFError, OSError, ValueError):
            self._inbox.put(("eof", None))

    def send(self, kind: str, docs: list[Doc]) -> None:
        self._put((kind, docs))

    def close_input(self) -> None:
        self._put(None)

    def _put(self, message) -> None:
        while True:
            if self._broken.is_set():
                self._failed()
            try:
                self._outbox.put(message, timeout=0.2)
                return
            except queue.Full:
                continue

    def _failed(self):
        """Raise what went wrong: the worker's own error, or its death."""
        self._threads[1].join(timeout=5)
        while True:
            try:
                kind, value = self._inbox.get_nowait()
            except queue.Empty:
                break
            if kind in ("error", "oserror"):
                _raise_reported(kind, value)
        code = self.process.wait()
        raise IndexingStoppedError(
            "an indexing process was stopped — out of memory?",
            hint=f"worker exit {code}; close other programs, or run `healthkb reindex` again",
        )

    def finish(self, on_progress) -> ShardResult:
        while True:
            kind, value = self._inbox.get()
            if kind == "progress":
                on_progress(value)
            elif kind == "done":
                self.process.wait(timeout=30)
                return value
            else:
                if kind in ("error", "oserror"):
                    _raise_reported(kind, value)
                self._failed()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        # Wake the writer thread if it waits for a batch that will never come
        # (its pipe is closed now, so it stops), and let both threads end: a
        # process that goes on after a failed build (a retry, a library
        # caller) would otherwise keep them, and a reading command's
        # background walk is never forked beside other threads.
        try:
            self._outbox.put_nowait(None)
        except queue.Full:
            pass  # the writer is busy sending: the closed pipe stops it
        for thread in self._threads:
            thread.join(timeout=5)


if __name__ == "__main__":
    # Run the importable module's function, so that what we pickle back names
    # healthkb.index.workers classes, not this __main__ copy of them.
    from healthkb.index.workers import shard_main as _main

    _main(sys.argv[1], int(sys.argv[2]))
