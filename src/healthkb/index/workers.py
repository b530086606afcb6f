"""Parallel Whoosh indexing without Whoosh's own ``procs`` workers.

Each worker process owns one *shard* (a complete Whoosh index of its own) for
the length of a full build: it receives batches of documents over a pipe,
indexes them, and commits once at the end.  Search reads all shards through
one ``MultiReader``, so BM25 statistics stay global.

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
import signal
import struct
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass

BATCH_SIZE = 200


@dataclass(frozen=True, slots=True)
class DocTask:
    """One document to index: where to read it and what the catalog decided."""

    id: str
    abspath: str
    sha256: str
    title: str


@dataclass(slots=True)
class ShardResult:
    indexed: int
    words: Counter
    changed: list[str]  # ids whose content no longer matched the catalog's hash


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


def index_documents(writer, docs: list[DocTask], words: Counter) -> tuple[int, list[str]]:
    """Add ``docs`` to an open Whoosh writer; count each word once per document."""
    from healthkb.corpus import current_body
    from healthkb.index.schema import WORD_PATTERN, fold_for_index

    indexed = 0
    changed: list[str] = []
    for doc in docs:
        body = current_body(doc.abspath, doc.sha256)
        if body is None:
            changed.append(doc.id)
            continue
        writer.add_document(id=doc.id, title=doc.title, body=body)
        words.update(set(WORD_PATTERN.findall(fold_for_index(doc.title + " " + body))))
        indexed += 1
    return indexed, changed


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
    return pickle.loads(data)


def shard_main(shard_dir: str, limitmb: int) -> None:
    """Worker process: index batches from stdin into a new shard, then commit."""
    _die_with_parent()
    from whoosh import index as whoosh_index

    from healthkb.index.schema import build_schema

    inbox, outbox = sys.stdin.buffer, sys.stdout.buffer
    os.makedirs(shard_dir, exist_ok=True)
    writer = whoosh_index.create_in(shard_dir, build_schema()).writer(limitmb=limitmb, compound=False)
    words: Counter = Counter()
    indexed = 0
    changed: list[str] = []
    try:
        while True:
            try:
                batch = _receive(inbox)
            except EOFError:
                writer.cancel()
                os._exit(1)  # the parent went away: abandon the build
            if batch is None:
                break
            done, lost = index_documents(writer, batch, words)
            indexed += done
            changed.extend(lost)
            _send(outbox, ("progress", len(batch)))
        writer.commit(merge=False)
        _send(outbox, ("done", ShardResult(indexed, words, changed)))
    except Exception as exc:  # report any failure to the parent, which raises it
        _send(outbox, ("error", f"{type(exc).__name__}: {exc}"))


class ShardWorker:
    """The parent's handle on one worker process building one shard.

    A plain subprocess running ``python -m healthkb.index.workers``: unlike
    multiprocessing it never re-imports the caller's ``__main__``, and it
    inherits no file descriptors (so no lock) from the parent.
    """

    def __init__(self, shard_dir: str, limitmb: int = 128) -> None:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # process_group=0: a process group of its own, so Ctrl-C in the terminal
        # interrupts only the parent (which then kills us) and no worker prints
        # a KeyboardInterrupt traceback.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "healthkb.index.workers", shard_dir, str(limitmb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, env=env, process_group=0,
        )
        self._feeder: threading.Thread | None = None

    def feed(self, batches: list[list[DocTask]]) -> None:
        """Send every batch, then the end mark, from a thread of its own: a
        full pipe to one worker must not keep the others waiting."""

        def write_all() -> None:
            try:
                for batch in batches:
                    _send(self.process.stdin, batch)
                _send(self.process.stdin, None)
                self.process.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the worker died or was killed; finish() reports it

        self._feeder = threading.Thread(target=write_all, daemon=True)
        self._feeder.start()

    def _next(self):
        try:
            kind, value = _receive(self.process.stdout)
        except EOFError:
            raise RuntimeError(f"an indexing worker stopped (exit {self.process.wait()})") from None
        if kind == "error":
            raise RuntimeError(value)
        return kind, value

    def finish(self, on_progress) -> ShardResult:
        while True:
            kind, value = self._next()
            if kind == "progress":
                on_progress(value)
            else:
                self.process.wait(timeout=30)
                return value

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


if __name__ == "__main__":
    # Run the importable module's function, so that what we pickle back names
    # healthkb.index.workers classes, not this __main__ copy of them.
    from healthkb.index.workers import shard_main as _main

    _main(sys.argv[1], int(sys.argv[2]))
