"""Parallel Whoosh indexing without Whoosh's own ``procs`` workers.

Each worker process owns one *shard* (a complete Whoosh index of its own) for
the length of a full build: it receives batches of documents over a pipe,
indexes them, and commits once at the end.  Search reads all shards through
one ``MultiReader``, so BM25 statistics stay global.

Why not ``writer(procs=N)``: its workers inherit the index lock and outlive a
killed parent (see the hardening issue).  Ours are *spawned* (a fresh
interpreter: no inherited lock file descriptor), ask the kernel to kill them
when the parent dies (``PR_SET_PDEATHSIG``), and also exit when the pipe to
the parent closes.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection

BATCH_SIZE = 200


@dataclass(frozen=True, slots=True)
class DocTask:
    """One document to index: where to read it and what the catalog decided."""

    id: str
    abspath: str
    sha256: str
    title: str
    footer: str


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


def read_body(abspath: str, expected_sha: str) -> tuple[str | None, str | None]:
    """(body, title-from-heading) of a file, or (None, None) if it changed."""
    from healthkb.article import parse_article
    from healthkb.corpus import UndecodableError, read_file

    try:
        decoded = read_file(abspath)
    except (OSError, UndecodableError):
        return None, None
    if expected_sha and decoded.sha256 != expected_sha:
        return None, None
    article = parse_article(decoded.text, "x")
    return article.body, article.title


def index_documents(writer, docs: list[DocTask], words: Counter) -> tuple[int, list[str]]:
    """Add ``docs`` to an open Whoosh writer; count each word once per document."""
    from healthkb.index.schema import WORD_PATTERN, fold_for_index

    indexed = 0
    changed: list[str] = []
    for doc in docs:
        body, _ = read_body(doc.abspath, doc.sha256)
        if body is None:
            changed.append(doc.id)
            continue
        writer.add_document(id=doc.id, title=doc.title, body=body, footer=doc.footer)
        words.update(set(WORD_PATTERN.findall(fold_for_index(doc.title + " " + body))))
        indexed += 1
    return indexed, changed


def _shard_main(conn: Connection, shard_dir: str, limitmb: int) -> None:
    _die_with_parent()
    from whoosh import index as whoosh_index

    from healthkb.index.schema import build_schema

    os.makedirs(shard_dir, exist_ok=True)
    ix = whoosh_index.create_in(shard_dir, build_schema())
    writer = ix.writer(limitmb=limitmb, compound=False)
    words: Counter = Counter()
    indexed = 0
    changed: list[str] = []
    try:
        while True:
            try:
                batch = conn.recv()
            except EOFError:
                writer.cancel()
                os._exit(1)  # the parent went away: abandon the build
            if batch is None:
                break
            done, lost = index_documents(writer, batch, words)
            indexed += done
            changed.extend(lost)
            conn.send(("progress", len(batch)))
        writer.commit(merge=False)
        conn.send(("done", ShardResult(indexed, words, changed)))
    except Exception as exc:  # report any failure to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class ShardWorker:
    """The parent's handle on one worker process building one shard."""

    def __init__(self, shard_dir: str, limitmb: int = 96) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=_shard_main, args=(child_conn, shard_dir, limitmb), daemon=True)
        self.process.start()
        child_conn.close()
        self.pending = 0

    def send(self, batch: list[DocTask]) -> None:
        self.conn.send(batch)
        self.pending += 1

    def poll_progress(self, timeout: float = 0.0) -> int:
        """Documents finished since the last call (non-blocking by default)."""
        finished = 0
        while self.pending and self.conn.poll(timeout):
            kind, value = self.conn.recv()
            if kind == "error":
                raise RuntimeError(value)
            finished += value
            self.pending -= 1
            timeout = 0.0
        return finished

    def finish(self, on_progress) -> ShardResult:
        self.conn.send(None)
        while True:
            kind, value = self.conn.recv()
            if kind == "progress":
                on_progress(value)
            elif kind == "error":
                raise RuntimeError(value)
            else:
                self.process.join(timeout=30)
                return value

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()
