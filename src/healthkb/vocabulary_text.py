"""Vocabulary text: terms, the line format of vocabulary files, reading
them, and the token normalisation that matching uses.  The groups and query
expansion built on top live in synonyms.py.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

MAX_GROUP_TERMS = 30
MAX_TERM_WORDS = 8
MAX_ALTERNATIVES_PER_SPAN = 8
MAX_ALTERNATIVES_TOTAL = 40
USER_FILE_NAME = "synonyms.txt"
BUILTIN_SOURCE = "healthkb/data/synonyms.txt (built-in)"

_CASE_MARK = "="
_APOSTROPHES = "'`\u2018\u2019\u02bc"
# Letters that NFD leaves whole but that readers treat as plain letters.
_LETTER_FOLDS = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th"}
)
# ASCII tokenising: apostrophes vanish, every other non-alphanumeric splits.
# Built by the C-level maketrans: import stays cheap.
_CONTROLS = bytes(range(32)).decode() + "\x7f"
_PUNCTUATION = '!"$%&()*+,-./:;<>?@[\\]^_{}~'  # without ' ` | # =
_SEPARATORS = _PUNCTUATION + _CONTROLS + "|#="
_ASCII_SPLIT = str.maketrans(_SEPARATORS, " " * len(_SEPARATORS), "'`")
# The same for a whole file's bytes (bytes.translate is far faster than
# str.translate), keeping what the line parser needs; bytes >= 128 pass.
_BULK_SEPARATORS = (_PUNCTUATION + _CONTROLS.replace("\n", "")).encode()
BULK_SPLIT = bytes.maketrans(_BULK_SEPARATORS, b" " * len(_BULK_SEPARATORS))


class Term(NamedTuple):
    """One way of saying something, as written in a vocabulary file."""

    text: str
    key: str  # folded tokens joined by single spaces: what matching compares
    case_sensitive: bool = False
    raw: str = ""  # unfolded tokens, compared for case-sensitive terms only

    @property
    def words(self) -> tuple[str, ...]:
        """The term split on spaces, for the caller's analyzer (a phrase if > 1)."""
        return tuple(self.text.split())


class VocabularyProblem(NamedTuple):
    """A line or file that could not be used, fully or in part."""

    path: str
    line_no: int | None  # None when the problem concerns the whole file
    message: str

    def __str__(self) -> str:
        where = self.path if self.line_no is None else f"{self.path}:{self.line_no}"
        return f"{where}: {self.message}"


def fold(text: str) -> str:
    """Normalise text for matching: NFKC, casefold, accents and ligatures folded."""
    if text.isascii():
        return text.lower()  # the common case; same result as the full path
    import unicodedata  # only non-ASCII text pays for it

    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).translate(_LETTER_FOLDS)


# --- reading and parsing ------------------------------------------------------

def read_builtin() -> bytes:
    # This module's own loader reads the package data file: no import of
    # importlib.resources (about 9 ms here) or of healthkb.data, and it
    # works from a zip as well.
    location = os.path.join(os.path.dirname(__spec__.origin), "data", "synonyms.txt")
    return __spec__.loader.get_data(location)


def read_user_file(path: str, problems: list[VocabularyProblem]) -> str | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        problems.append(VocabularyProblem(path, None, f"cannot read: {error.strerror or error}"))
        return None
    if b"\0" in data:
        problems.append(VocabularyProblem(path, None, "not a text file; skipped"))
        return None
    data = without_bom(data)
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        line_no = data.count(b"\n", 0, error.start) + 1
        message = "not valid UTF-8 (first bad byte on this line); read as Windows-1252"
        problems.append(VocabularyProblem(path, line_no, message))
        return data.decode("cp1252", errors="replace")


def without_bom(data: bytes) -> bytes:
    # By hand: decoding with "utf-8-sig" imports a codec module (~0.25 ms).
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def parse_line(line: str, source: str, line_no: int) -> tuple[list[Term], list[VocabularyProblem]]:
    """Terms of one line, checked piece by piece, with what was wrong."""
    line = line.partition("#")[0].strip()
    if not line:
        return [], []
    if "|" not in line:
        return [], [VocabularyProblem(source, line_no, "expected terms separated by ' | '")]
    terms: list[Term] = []
    problems: list[VocabularyProblem] = []
    seen: set[str] = set()
    for piece in line.split("|"):
        piece = piece.strip()
        term, message = _parse_term(piece)
        if term is not None and term_identity(term) in seen:
            term, message = None, f"duplicate term {piece!r} ignored"
        if message:
            problems.append(VocabularyProblem(source, line_no, message))
        if term is not None:
            seen.add(term_identity(term))
            terms.append(term)
    if len(terms) < 2:
        message = "a group needs at least two different terms; line ignored"
        return [], problems + [VocabularyProblem(source, line_no, message)]
    return terms, problems


def _parse_term(text: str) -> tuple[Term | None, str | None]:
    case_sensitive = text.startswith(_CASE_MARK)
    if case_sensitive:
        text = text[1:].strip()
    if not text:
        return None, "empty term"
    tokens = split_tokens(fold(text))
    if not tokens:
        return None, f"term {text!r} has no letters or digits"
    if len(tokens) > MAX_TERM_WORDS:
        return None, f"term {text!r} has more than {MAX_TERM_WORDS} words"
    raw = " ".join(split_tokens(compose(text))) if case_sensitive else ""
    return Term(" ".join(text.split()), " ".join(tokens), case_sensitive, raw), None


# --- tokens -------------------------------------------------------------------


def compose(text: str) -> str:
    """NFKC without folding case or accents: what case-sensitive terms compare."""
    if text.isascii():
        return text
    import unicodedata

    return unicodedata.normalize("NFKC", text)


def split_tokens(text: str) -> list[str]:
    if text.isascii():
        return text.translate(_ASCII_SPLIT).split()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")
    return "".join(c if c.isalnum() else " " for c in text).split()


def aligned_raw_tokens(words: Sequence[str], starts: list[int]) -> list[str]:
    """Unfolded tokens at the same positions as the folded ones."""
    raw: list[str] = []
    for number, word in enumerate(words):
        tokens = split_tokens(compose(word))
        wanted = starts[number + 1] - starts[number]
        # Folding never changes token counts for real text; if it somehow
        # did, keep positions aligned and let case-sensitive matching fail.
        raw += tokens if len(tokens) == wanted else [""] * wanted
    return raw


def term_identity(term: Term) -> str:
    # "=" never occurs in a key, so case-sensitive "MI" and plain "mi" differ.
    return _CASE_MARK + term.raw if term.case_sensitive else term.key


def sub_phrases(key: str) -> set[str]:
    """Every shorter phrase of whole tokens inside ``key``."""
    if " " not in key:
        return set()
    tokens = key.split()
    size = len(tokens)
    return {" ".join(tokens[i:j]) for i in range(size) for j in range(i + 1, size + 1) if j - i < size}


def singulars(token: str) -> list[str]:
    """Likely singulars of an English plural token (cheap and conservative)."""
    if len(token) < 4 or not token.endswith("s") or token.endswith(("ss", "us", "is")):
        return []
    if token.endswith("ies"):
        return [token[:-3] + "y"]
    return [token[:-1], token[:-2]] if token.endswith("es") else [token[:-1]]

