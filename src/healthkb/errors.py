"""The one error hierarchy of healthkb.

Every failure the core can report is a ``HealthKBError`` subclass that carries
the process exit code promised by SPEC §4.  The CLI turns these into a single
line on stderr in exactly one place; nothing else catches them.
"""

from __future__ import annotations

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
