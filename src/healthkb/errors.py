"""The one error hierarchy of healthkb.

Every failure the core can report is a ``HealthKBError`` subclass that carries
the process exit code promised by SPEC §4.  The CLI turns these into a single
line on stderr in exactly one place; nothing else catches them.
"""

from __future__ import annotations

import errno
import os

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130


class HealthKBError(Exception):
    """Base class: a message for the user, an optional hint, an exit code."""

    exit_code = EXIT_NOT_FOUND

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotFoundError(HealthKBError):
    """Nothing matched: an unknown REF, no search hits."""

    exit_code = EXIT_NOT_FOUND


class BadInputError(HealthKBError):
    """The user gave something we cannot use (bad option value, unreadable file)."""

    exit_code = EXIT_USAGE


class AmbiguousRefError(BadInputError):
    """A REF matched several articles; the candidates are listed for the user."""

    def __init__(self, ref: str, candidates: list[tuple[str, str]]) -> None:
        shown = "\n".join(f"  {cid}  {title}" for cid, title in candidates[:20])
        more = f"\n  … and {len(candidates) - 20} more" if len(candidates) > 20 else ""
        super().__init__(
            f"'{ref}' matches {len(candidates)} articles:\n{shown}{more}",
            hint="give more of the id or title",
        )
        self.ref = ref
        self.candidates = candidates


class OutputError(HealthKBError):
    """Standard output cannot be written (a full disk, a closed terminal)."""

    exit_code = EXIT_NOT_FOUND


class KBUnavailableError(HealthKBError):
    """The knowledge base folder is missing, not a folder, or unreadable."""

    exit_code = EXIT_UNAVAILABLE


class IndexUnavailableError(KBUnavailableError):
    """The index cannot be opened or written (and could not be rebuilt)."""


class LockTimeoutError(KBUnavailableError):
    """Another writer held the index lock for longer than we were willing to wait."""


class StorageError(KBUnavailableError):
    """A file could not be written or read for a reason a person can cause or
    fix: a full disk, permissions, a read-only or failing disk, a path too
    long or looping.  Never an internal error (SPEC §4: exit 3)."""


# The OSError numbers that come from the machine, not from a bug in healthkb.
PERSON_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "EACCES", "EPERM", "EROFS", "EIO", "ENAMETOOLONG", "ELOOP", "ENXIO")
    if hasattr(errno, name)
)
# SQLite reports the same causes as its own error names.
_SQLITE_STORAGE = {"SQLITE_FULL": errno.ENOSPC, "SQLITE_READONLY": errno.EROFS, "SQLITE_CANTOPEN": errno.EACCES, "SQLITE_IOERR": errno.EIO}


def storage_failure(exc: BaseException, path: str | os.PathLike | None = None, *, action: str = "writing") -> StorageError | None:
    """``exc`` as a StorageError naming the file, when it is a storage failure
    (an OSError from PERSON_ERRNOS, or the SQLite equivalent); else None.

    ``path`` is named when the error itself names no file (a failed write()
    or a SQLite error).  A SQLite I/O error on a full file system is reported
    as the full disk it is."""
    number = None
    if isinstance(exc, OSError) and exc.errno in PERSON_ERRNOS:
        number = exc.errno
        if exc.filename is not None:
            path = exc.filename
    else:
        name = getattr(exc, "sqlite_errorname", None) or ""
        number = next((code for prefix, code in _SQLITE_STORAGE.items() if name.startswith(prefix)), None)
    if number is None:
        return None
    if number in (errno.EIO, errno.EACCES) and path is not None and disk_full(path):
        number = errno.ENOSPC
    reason = os.strerror(number)
    reason = reason[:1].lower() + reason[1:]
    where = f" while {action} {os.fsdecode(path)}" if path is not None else ""
    return StorageError(f"{reason}{where}")


def disk_full(path: str | os.PathLike) -> bool:
    """True when the file system holding ``path`` has (almost) no room left."""
    folder = os.fspath(path)
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    try:
        fs = os.statvfs(folder or ".")
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < 64 * 1024


class IndexingStoppedError(IndexUnavailableError):
    """A shard worker of a full build died without a word (killed, usually by
    the kernel's out-of-memory killer)."""
