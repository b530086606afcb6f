"""One article file as bytes on disk: how it is read and decoded, and the
names a KB folder reserves for healthkb.

Kept apart from the scan (corpus.py), so that a search, which reads only the
files of its hits for their snippets, does not load the scanner.
"""

from __future__ import annotations

from typing import NamedTuple

from healthkb.article import article_body

STATE_DIR_NAME = ".healthkb"  # the index, the catalog and the lock live here
# Names of the temporary files that copies into the KB write (kb.py).
COPY_TEMP_PREFIXES = (".add-", ".starter-")
COPY_TEMP_SUFFIX = ".tmp"
_SNIFF_BYTES = 8192


class Decoded(NamedTuple):
    """A file's text as read: its encoding, what was odd about it, its SHA-256."""

    text: str
    encoding: str
    warnings: tuple[str, ...]
    sha256: str


class UndecodableError(ValueError):
    """The bytes are not text (binary, or an encoding we cannot read)."""


def decode_bytes(data: bytes, *, fingerprint: bool = True) -> Decoded:
    """Decode article bytes: UTF-8 (BOM allowed), UTF-16 with BOM, else cp1252.

    Raises UndecodableError for binary content (a NUL byte outside UTF-16).
    ``fingerprint=False`` skips the SHA-256 (``sha256`` is then ""): readers
    that only display text need no hash.
    """
    if fingerprint:
        import hashlib  # lazy: only indexing needs it, and it loads OpenSSL

        digest = hashlib.sha256(data).hexdigest()
    else:
        digest = ""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return Decoded(data.decode("utf-16"), "utf-16", (), digest)
        except UnicodeDecodeError as exc:
            raise UndecodableError("invalid UTF-16") from exc
    if b"\x00" in data[:_SNIFF_BYTES] or b"\x00" in data:
        raise UndecodableError("binary file")
    try:
        return Decoded(data.decode("utf-8-sig"), "utf-8", (), digest)
    except UnicodeDecodeError as exc:
        warning = f"not valid UTF-8 (byte {exc.start}); decoded as cp1252"
        # cp1252 leaves five bytes undefined; replace them rather than fail.
        return Decoded(data.decode("cp1252", errors="replace"), "cp1252", (warning,), digest)


def read_file(path: str, *, fingerprint: bool = True) -> Decoded:
    """Read and decode one file (UndecodableError, OSError propagate)."""
    with open(path, "rb") as handle:
        return decode_bytes(handle.read(), fingerprint=fingerprint)


def current_text(path: str, expected_sha256: str = "") -> str | None:
    """The decoded text of a file as it is now, or None when it is gone, no
    longer text, or (given ``expected_sha256``) no longer the indexed content."""
    try:
        decoded = read_file(path, fingerprint=bool(expected_sha256))
    except (OSError, UndecodableError):
        return None
    if expected_sha256 and decoded.sha256 != expected_sha256:
        return None
    return decoded.text


def current_body(path: str, expected_sha256: str = "") -> str | None:
    """The body of an article file as it is now (see :func:`current_text`)."""
    text = current_text(path, expected_sha256)
    return None if text is None else article_body(text)
