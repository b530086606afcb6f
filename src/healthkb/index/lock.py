"""One writer at a time: an advisory ``fcntl`` lock on ``<state>/write.lock``.

The kernel drops an flock when its holder dies, even by kill -9, so a crashed
writer never leaves a stale lock.  The file also records who holds it, so a
waiting writer can say whom it waited for.  Readers never take this lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from healthkb.errors import IndexUnavailableError, LockTimeoutError

DEFAULT_TIMEOUT = 10.0
LOCK_NAME = "write.lock"
ENV_TIMEOUT = "HEALTHKB_LOCK_TIMEOUT"


def lock_timeout() -> float:
    """Seconds a writer waits for the lock (``HEALTHKB_LOCK_TIMEOUT`` overrides)."""
    raw = os.environ.get(ENV_TIMEOUT)
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


class WriteLock:
    """``with WriteLock(state_dir):`` holds the index write lock."""

    def __init__(self, state_dir: Path, timeout: float | None = None) -> None:
        self.path = state_dir / LOCK_NAME
        self.timeout = lock_timeout() if timeout is None else timeout
        self._fd: int | None = None

    def holder(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return "another process"
        return text or "another process"

    def acquire(self) -> None:
        try:
            # O_CLOEXEC (Python's default) keeps the lock out of any program we exec.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexUnavailableError(f"cannot open the index lock {self.path}: {exc.strerror}") from exc
        deadline = time.monotonic() + self.timeout
        delay = 0.02
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self.holder()
                    os.close(fd)
                    raise LockTimeoutError(
                        f"the index is being updated by {holder}; gave up after {self.timeout:g} s",
                        hint=f"try again when it finishes (or set {ENV_TIMEOUT} to wait longer)",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        os.ftruncate(fd, 0)
        os.write(fd, f"healthkb pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "WriteLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
