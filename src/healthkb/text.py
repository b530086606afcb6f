"""String helpers shared by every module: sanitising untrusted text for the
terminal, normalising strings into match keys, and turning names into titles.

Everything here is pure and cheap to import (only ``re`` and ``unicodedata``).
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Terminal control that must never reach the user's terminal (SPEC §1):
#  - CSI sequences  ESC [ params final, and the 8-bit CSI (U+009B)
#  - OSC/DCS/PM/APC/SOS strings, ended by BEL or ST (ESC \ or U+009C), or
#    unterminated; an unterminated one stops at the end of its line, so one
#    stray introducer cannot swallow the rest of a file (once the introducer
#    is gone what follows is inert text)
#  - any other two-character ESC sequence
#  - C0 controls except tab and newline, DEL, C1 controls
#  - bidirectional overrides, which can reorder what the user reads
_ESCAPES_PATTERN = (
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?          # CSI
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])   # OSC, DCS, SOS, PM, APC ...
    [^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?   # ... up to BEL or ST (or the line end)
  | \x1b[ -~]?                               # any other ESC sequence
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]              # C0 (but \t, \n), DEL, C1
  | [\u202a-\u202e\u2066-\u2069]             # bidi embeddings and overrides
    """
)
# Characters that take no room on screen (or only change the direction of
# what follows): shown by sanitize(), so they can never hide a difference.
# Variation selectors are left alone: emoji need them.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u2060-\u2064"
    "\u206a-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f]"
)
# Every sequence above starts with one of these characters: a text without
# any (nearly every article) is returned as it is, ~50x faster than the sub.
_ESCAPE_START = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[\W_]+")
_ASCII_NON_WORD = bytes(c for c in range(128) if not chr(c).isalnum())
_SLUG_SEPARATORS = re.compile(r"[-_\s.]+")
_SLUG_PART = re.compile(r"[^\W\d_]+|\d{1,4}")
_SENTENCE_END_PATTERN = r"[.!?。！？](?=\s|$)"


# Two patterns compiled on first use: each costs ~0.4-0.6 ms to compile (their
# non-ASCII classes), and most processes never need them: text with control
# characters is rare, and a search takes no title from a body.
@functools.cache
def _escapes() -> re.Pattern:
    return re.compile(_ESCAPES_PATTERN, re.VERBOSE)


@functools.cache
def _sentence_end() -> re.Pattern:
    return re.compile(_SENTENCE_END_PATTERN)


def normalize_newlines(text: str) -> str:
    """CRLF, CR and Unicode line separators all become ``\\n``."""
    if "\r" not in text and (text.isascii() or not any(c in text for c in "\u2028\u2029\x85")):
        return text  # the common case, without a regex pass
    return _LINE_BREAKS.sub("\n", text)


def strip_controls(text: str) -> str:
    """Remove every terminal control sequence; keep newlines and tabs.

    For text that is stored or matched, not shown: :func:`sanitize` is for
    what a person reads."""
    if not _ESCAPE_START.search(text):
        return text
    return _escapes().sub("", text)


def _show_invisible(match: re.Match) -> str:
    return f"<U+{ord(match.group()):04X}>"


def sanitize(text: str) -> str:
    """Text made safe and unambiguous to show to a person: terminal control
    sequences removed, and every invisible character (zero-width spaces and
    joiners, soft hyphens, bidi marks, tag characters) shown as ``<U+200B>``,
    so that two names that differ only by one never look alike.

    The one function for everything printed: article text, titles, ids,
    paths, notices and error messages, click's own included; newlines and
    tabs are kept."""
    text = _escapes().sub("", text)
    return text if text.isascii() else _INVISIBLE.sub(_show_invisible, text)


def clean_line(text: str) -> str:
    """One line of stored text: control sequences removed, line breaks and
    tabs folded into spaces (titles, ids, nav texts, queries).  Invisible
    characters are kept: matching drops them, :func:`sanitize_line` shows them."""
    return _SPACES.sub(" ", strip_controls(normalize_newlines(text))).strip()


def sanitize_line(text: str) -> str:
    """Like :func:`sanitize`, and fold any line breaks or tabs into spaces.

    For things shown on one line: titles, ids, file names, nav texts.
    """
    return sanitize(clean_line(text))


def fold(text: str) -> str:
    """NFKC, case-fold and strip accents: "Café" and "cafe" fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", stripped)


def match_key(text: str) -> str:
    """The key two strings must share to name the same thing (SPEC §2).

    Folded, with punctuation and spacing dropped entirely, so that
    "Can walking backwards…?" and ``can-walking-backwards`` agree, and a
    teaser cut mid-word is still a prefix of the body's key.
    """
    if text.isascii():
        # Fast path: most text is ASCII, and then folding is just lower().
        # Still strip control sequences first, or "ESC[31mRed" would keep "31m"
        # and disagree with the slow path (isprintable() is a cheap pre-check).
        if not text.isprintable():
            text = strip_controls(text)
        # bytes.translate deletes the non-alphanumerics in C: several times
        # faster than the regex, and link resolution calls this per teaser.
        return text.lower().encode("ascii").translate(None, _ASCII_NON_WORD).decode("ascii")
    return _NON_WORD.sub("", fold(strip_controls(text)))


def title_from_filename(stem: str) -> str | None:
    """``insomnia-relief`` → "Insomnia relief"; None when the name is not words.

    A name reads as words when every part is letters (or a short number) and
    some part has letters: hashes such as ``000_ec7fe29246c6fc0e`` do not.
    """
    parts = [p for p in _SLUG_SEPARATORS.split(stem) if p]
    if not parts or not any(p.isalpha() for p in parts):
        return None
    if not all(_SLUG_PART.fullmatch(p) for p in parts):
        return None
    words = " ".join(parts)
    return words[:1].upper() + words[1:]


def shorten(text: str, width: int, placeholder: str = "…") -> str:
    """Cut ``text`` to ``width`` characters at a word boundary when there is one."""
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= width:
        return text
    cut = text[: max(width - len(placeholder), 1)]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + placeholder


def first_sentence(text: str, width: int = 80) -> str:
    """The first sentence of ``text``, shortened to ``width`` characters."""
    # Find the end first, then fold the spaces of that sentence only: the
    # body can be long, and this runs for every snippet's article.
    text = text.strip()
    end = _sentence_end().search(text)
    sentence = text[: end.end()] if end else text
    return shorten(_SPACES.sub(" ", sentence), width)


def slugify(title: str) -> str:
    """"Can I drink red wine?" → ``can-i-drink-red-wine`` (for file names)."""
    words = _NON_WORD.sub(" ", fold(strip_controls(title))).split()
    return "-".join(words) or "article"
