"""Health-language vocabulary: loading synonym groups and expanding queries.

Owns the synonym data model (groups of equivalent terms: lay and clinical
names, British and American spellings, abbreviations), the parser for the
format documented at the top of ``healthkb/data/synonyms.txt``, the merging
of a KB's own vocabulary file into the built-in one, and the bounded query
expansion that search builds on. Stdlib only.

Every search may load the vocabulary, so nothing happens at import and the
first ``load_vocabulary()`` is cached for the process. Loading builds only an
index from normalised term to group, with bulk string operations for
ordinary lines; a group's ``Term`` objects are parsed when a query needs it.

Design choices (search and tests rely on them):

* Matching compares whole normalised tokens (``fold``: NFKC, casefold,
  accents folded; apostrophes dropped, so "Crohn's" == "crohns"; split on
  anything not a letter or digit): "MI" never matches inside "mild".
* ``=TERM`` is case-sensitive: it matches only as typed ("MI", not "mi") and
  is not *added* to queries by default, because the index folds case and
  "AIDS" or "PAD" would find the everyday words.
* Lines sharing a term merge into one group, so a user file extends a
  built-in group by naming any one of its terms. A line that would make a
  group larger than ``MAX_GROUP_TERMS`` is reported and ignored, so neither
  a huge line nor a chain of lines can make expansion explode.
* Expansion is greedy, longest match first, never drops the user's words and
  is bounded per span and in total. A trailing plural on a span's last word
  is tolerated ("kidney stones" finds "kidney stone").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat

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
_BULK_SPLIT = bytes.maketrans(_BULK_SEPARATORS, b" " * len(_BULK_SEPARATORS))


@dataclass
class Term:
    """One way of saying something, as written in a vocabulary file."""

    text: str
    key: str  # folded tokens joined by single spaces: what matching compares
    case_sensitive: bool = False
    raw: str = ""  # unfolded tokens, compared for case-sensitive terms only

    @property
    def words(self) -> tuple[str, ...]:
        """The term split on spaces, for the caller's analyzer (a phrase if > 1)."""
        return tuple(self.text.split())


@dataclass
class VocabularyProblem:
    """A line or file that could not be used, fully or in part."""

    path: str
    line_no: int | None  # None when the problem concerns the whole file
    message: str

    def __str__(self) -> str:
        where = self.path if self.line_no is None else f"{self.path}:{self.line_no}"
        return f"{where}: {self.message}"


@dataclass
class SpanExpansion:
    """Alternatives added for the user's words ``words[start:end]``."""

    start: int
    end: int  # exclusive
    words: tuple[str, ...]  # the user's own words in the span
    matched: Term  # the vocabulary term those words matched
    alternatives: tuple[Term, ...]


@dataclass
class Expansion:
    """A query's words plus the spans that gained alternatives."""

    words: tuple[str, ...]
    spans: tuple[SpanExpansion, ...] = ()
    truncated: bool = False  # a bound dropped some alternatives

    @property
    def added(self) -> list[str]:
        """Every added term in order, for "also searched: ..." and JSON."""
        return [alt.text for span in self.spans for alt in span.alternatives]


class Vocabulary:
    """Groups of equivalent terms, indexed by normalised term."""

    def __init__(self) -> None:
        self.problems: list[VocabularyProblem] = []
        # A group is its raw line (parsed on first use), its terms, or None
        # once merged into another group.
        self._groups: list[str | list[Term] | None] = []
        self._index: dict[str, int] = {}  # plain term key -> group
        self._cased: dict[str, dict[str, int]] = {}  # key -> {raw: group}
        self._live = 0

    def __len__(self) -> int:
        return self._live

    @property
    def groups(self) -> list[tuple[Term, ...]]:
        """All groups (parses every line: for tests and tools, not searches)."""
        return [tuple(self._terms(g)) for g, entry in enumerate(self._groups) if entry is not None]

    def group_of(self, text: str) -> tuple[Term, ...] | None:
        """The group a term belongs to, matched as a query would match it."""
        hit = self._lookup(" ".join(_tokens(fold(text))), " ".join(_tokens(_compose(text))), False)
        return tuple(self._terms(hit[0])) if hit else None

    def expand(
        self,
        words: Sequence[str],
        *,
        max_per_span: int = MAX_ALTERNATIVES_PER_SPAN,
        max_total: int = MAX_ALTERNATIVES_TOTAL,
        include_case_sensitive: bool = False,
    ) -> Expansion:
        """Find vocabulary terms in the user's ``words`` and their alternatives.

        ``words`` are the query's words as typed (original case, so that
        case-sensitive abbreviations are recognised). Spans are found greedily,
        longest first. A span's alternatives are the other terms of its group,
        minus anything already searched (typed by the user or added for an
        earlier span) and minus phrases containing one already searched.
        """
        from bisect import bisect_right

        words = tuple(words)
        tokens: list[str] = []
        starts: list[int] = []  # each word's first token; one extra at the end
        for word in words:
            starts.append(len(tokens))
            tokens += _tokens(fold(word))
        starts.append(len(tokens))
        raw_tokens: list[str] | None = None

        matches: list[tuple[int, int, int, Term]] = []
        i = 0
        while i < len(words):
            hit = None
            if starts[i + 1] > starts[i]:  # a word of punctuation only starts nothing
                last = bisect_right(starts, starts[i] + MAX_TERM_WORDS, i) - 1
                for j in range(min(last, len(words)), i, -1):
                    if starts[j] == starts[j - 1]:
                        continue  # nor does a span end on one
                    key = " ".join(tokens[starts[i] : starts[j]])
                    raw = ""
                    if key in self._cased:
                        if raw_tokens is None:
                            raw_tokens = _aligned_raw_tokens(words, starts)
                        raw = " ".join(raw_tokens[starts[i] : starts[j]])
                    found = self._lookup(key, raw)
                    if found:
                        hit = (i, j, *found)
                        break
            if hit:
                matches.append(hit)
                i = hit[1]
            else:
                i += 1

        seen = {_identity(term) for *_, term in matches}
        searched = {term.key for *_, term in matches}
        spans: list[SpanExpansion] = []
        total, truncated = 0, False
        for start, end, group, term in matches:
            fresh = [
                alt
                for alt in self._terms(group)
                if _identity(alt) not in seen and (include_case_sensitive or not alt.case_sensitive)
            ]
            # A phrase search for "myocardial infarction" already finds "acute
            # myocardial infarction": drop the longer phrase to keep room for
            # real variants, and move the shorter one up to the longer's place.
            inside = [_sub_phrases(alt.key) for alt in fresh]
            keys = searched | {alt.key for alt in fresh}
            kept = [
                alt for alt, subs in zip(fresh, inside) if alt.key not in searched and subs.isdisjoint(keys)
            ]
            places = [{alt.key} | subs for alt, subs in zip(fresh, inside)]
            kept.sort(key=lambda alt: next(n for n, place in enumerate(places) if alt.key in place))
            fresh = kept
            room = max(0, min(max_per_span, max_total - total))
            if len(fresh) > room:
                truncated = True
                fresh = fresh[:room]
            if fresh:
                seen.update(_identity(alt) for alt in fresh)
                searched.update(alt.key for alt in fresh)
                total += len(fresh)
                spans.append(SpanExpansion(start, end, words[start:end], term, tuple(fresh)))
        return Expansion(words, tuple(spans), truncated)

    # --- lookup ---------------------------------------------------------------

    def _lookup(self, key: str, raw: str, plural: bool = True) -> tuple[int, Term] | None:
        """(group, term) for a normalised key; case-sensitive terms win."""
        group = self._cased.get(key, {}).get(raw) if raw else None
        if group is not None:
            return group, next(t for t in self._terms(group) if t.case_sensitive and t.raw == raw)
        candidates = [key]
        if plural and key.endswith("s"):
            stem, _, last = key.rpartition(" ")
            candidates += [f"{stem} {s}" if stem else s for s in _singulars(last)]
        for candidate in candidates:
            group = self._index.get(candidate)
            if group is not None:
                term = next(t for t in self._terms(group) if t.key == candidate and not t.case_sensitive)
                return group, term
        return None

    def _terms(self, group: int) -> list[Term]:
        entry = self._groups[group]
        if isinstance(entry, str):  # a line the fast path vouched for
            entry = self._groups[group] = _parse_line(entry, "", 0)[0]
        return entry or []

    # --- building -------------------------------------------------------------

    def _copy(self) -> Vocabulary:
        copy = Vocabulary()
        copy.problems = list(self.problems)
        copy._groups = list(self._groups)  # entries are replaced, never mutated
        copy._index = dict(self._index)
        copy._cased = {key: dict(raws) for key, raws in self._cased.items()}
        copy._live = self._live
        return copy

    def _add_text(self, text: str, source: str, data: bytes | None = None) -> None:
        """Add a file's lines; ``data`` is its UTF-8 bytes when already at hand."""
        raw_lines = text.split("\n")
        # A few C-level passes over the whole file's bytes fold it and
        # collapse its spaces ("\x02" stands for a line end, which split()
        # would eat). Each ordinary line (ASCII, no mark or comment, clean
        # separators, all-new terms) then costs a few string calls; anything
        # else takes the careful path, which reports problems precisely.
        folded = (data or text.encode()).lower().translate(_BULK_SPLIT, b"'`").replace(b"\n", b"\x02")
        lines = b" ".join(folded.split()).replace(b" \x02", b"\x02").replace(b"\x02 ", b"\x02").decode()
        all_ascii = lines.isascii()
        index, groups = self._index, self._groups
        for line_no, line in enumerate(lines.split("\x02"), start=1):
            if not line or line[0] == "#":
                continue  # blank, or a whole-line comment
            raw_line = raw_lines[line_no - 1]
            parts = line.split(" | ")
            count = len(parts)
            cased: list[tuple[str, str]] = []
            if (
                count < 2
                or count > MAX_GROUP_TERMS
                or "#" in line
                or line.count("|") != count - 1
                or not (all_ascii or line.isascii())
                or (
                    line.count(" ") - 2 * count + 2 >= MAX_TERM_WORDS
                    and any(part.count(" ") >= MAX_TERM_WORDS for part in parts)
                )
                or not index.keys().isdisjoint(parts)
                or ("=" in line and not self._cased_parts(parts, raw_line, cased))
            ):
                self._add_line(raw_line, source, line_no)
                continue
            if cased:
                parts = [part for part in parts if part[0] != "="]
            before = len(index)
            index.update(zip(parts, repeat(len(groups))))
            if len(index) - before != len(parts):  # a term repeated within the line
                for part in parts:
                    index.pop(part, None)
                self._add_line(raw_line, source, line_no)
                continue
            for key, raw in cased:
                self._cased.setdefault(key, {})[raw] = len(groups)
            groups.append(raw_line)
            self._live += 1

    def _cased_parts(self, parts: list[str], raw_line: str, out: list[tuple[str, str]]) -> bool:
        """Collect (key, raw) of an ordinary line's "=" terms; False if in doubt."""
        for part, piece in zip(parts, raw_line.split("|")):
            if "=" in part:
                piece = piece.strip()
                key, raw = part[1:].strip(), " ".join(_tokens(piece[1:]))
                if part.count("=") > 1 or part[0] != "=" or not key or raw in self._cased.get(key, ()):
                    return False
                out.append((key, raw))
        return len({raw for _, raw in out}) == len(out)

    def _add_line(self, line: str, source: str, line_no: int) -> None:
        terms, problems = _parse_line(line, source, line_no)
        self.problems += problems
        if not terms:
            return
        joined = sorted({g for g in map(self._owner, terms) if g is not None})
        new = [t for t in terms if self._owner(t) is None]
        size = sum(len(self._terms(g)) for g in joined) + len(new)
        if size > MAX_GROUP_TERMS:
            message = f"group would have {size} terms (at most {MAX_GROUP_TERMS}); line ignored"
            self.problems.append(VocabularyProblem(source, line_no, message))
            return
        if not joined:
            target, members = len(self._groups), list(new)
            self._groups.append(members)
            self._live += 1
        else:
            target = joined[0]
            members = list(self._terms(target))
            for other in joined[1:]:
                members += self._terms(other)
                self._groups[other] = None
                self._live -= 1
            members += new
            self._groups[target] = members
        for term in members:
            if term.case_sensitive:
                self._cased.setdefault(term.key, {})[term.raw] = target
            else:
                self._index[term.key] = target

    def _owner(self, term: Term) -> int | None:
        if term.case_sensitive:
            return self._cased.get(term.key, {}).get(term.raw)
        return self._index.get(term.key)


def fold(text: str) -> str:
    """Normalise text for matching: NFKC, casefold, accents and ligatures folded."""
    if text.isascii():
        return text.lower()  # the common case; same result as the full path
    import unicodedata  # only non-ASCII text pays for it

    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).translate(_LETTER_FOLDS)


def load_vocabulary(extra_paths: Iterable[os.PathLike[str] | str] = ()) -> Vocabulary:
    """The built-in vocabulary, extended by each existing file in ``extra_paths``.

    A missing extra file is silently skipped (most KBs have none). Problems
    are collected in ``Vocabulary.problems`` and every usable line is used.
    A file that is not UTF-8 is read as Windows-1252 and reported; a binary
    file is skipped and reported. Do not modify the returned object: the
    built-in vocabulary is shared by every caller in the process.
    """
    builtin = _CACHE.get("builtin")
    if builtin is None:
        builtin = _CACHE["builtin"] = Vocabulary()
        data = _without_bom(_read_builtin())
        builtin._add_text(data.decode(), BUILTIN_SOURCE, data)
    extra = [os.fspath(path) for path in extra_paths]
    if not extra:
        return builtin
    vocabulary = builtin._copy()
    for path in extra:
        text = _read_user_file(path, vocabulary.problems)
        if text is not None:
            vocabulary._add_text(text, path)
    return vocabulary


def user_vocabulary_paths(state_dir: os.PathLike[str] | str) -> list[str]:
    """The KB's own vocabulary file in its ``.healthkb`` folder, if it has one."""
    path = os.path.join(os.fspath(state_dir), USER_FILE_NAME)
    return [path] if os.path.isfile(path) else []


# --- reading and parsing ------------------------------------------------------

_CACHE: dict[str, Vocabulary] = {}


def _read_builtin() -> bytes:
    # This module's own loader reads the package data file: no import of
    # importlib.resources (about 9 ms here) or of healthkb.data, and it
    # works from a zip as well.
    location = os.path.join(os.path.dirname(__spec__.origin), "data", "synonyms.txt")
    return __spec__.loader.get_data(location)


def _read_user_file(path: str, problems: list[VocabularyProblem]) -> str | None:
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
    data = _without_bom(data)
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        line_no = data.count(b"\n", 0, error.start) + 1
        message = "not valid UTF-8 (first bad byte on this line); read as Windows-1252"
        problems.append(VocabularyProblem(path, line_no, message))
        return data.decode("cp1252", errors="replace")


def _without_bom(data: bytes) -> bytes:
    # By hand: decoding with "utf-8-sig" imports a codec module (~0.25 ms).
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _parse_line(line: str, source: str, line_no: int) -> tuple[list[Term], list[VocabularyProblem]]:
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
        if term is not None and _identity(term) in seen:
            term, message = None, f"duplicate term {piece!r} ignored"
        if message:
            problems.append(VocabularyProblem(source, line_no, message))
        if term is not None:
            seen.add(_identity(term))
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
    tokens = _tokens(fold(text))
    if not tokens:
        return None, f"term {text!r} has no letters or digits"
    if len(tokens) > MAX_TERM_WORDS:
        return None, f"term {text!r} has more than {MAX_TERM_WORDS} words"
    raw = " ".join(_tokens(_compose(text))) if case_sensitive else ""
    return Term(" ".join(text.split()), " ".join(tokens), case_sensitive, raw), None


# --- tokens -------------------------------------------------------------------


def _compose(text: str) -> str:
    """NFKC without folding case or accents: what case-sensitive terms compare."""
    if text.isascii():
        return text
    import unicodedata

    return unicodedata.normalize("NFKC", text)


def _tokens(text: str) -> list[str]:
    if text.isascii():
        return text.translate(_ASCII_SPLIT).split()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")
    return "".join(c if c.isalnum() else " " for c in text).split()


def _aligned_raw_tokens(words: Sequence[str], starts: list[int]) -> list[str]:
    """Unfolded tokens at the same positions as the folded ones."""
    raw: list[str] = []
    for number, word in enumerate(words):
        tokens = _tokens(_compose(word))
        wanted = starts[number + 1] - starts[number]
        # Folding never changes token counts for real text; if it somehow
        # did, keep positions aligned and let case-sensitive matching fail.
        raw += tokens if len(tokens) == wanted else [""] * wanted
    return raw


def _identity(term: Term) -> str:
    # "=" never occurs in a key, so case-sensitive "MI" and plain "mi" differ.
    return _CASE_MARK + term.raw if term.case_sensitive else term.key


def _sub_phrases(key: str) -> set[str]:
    """Every shorter phrase of whole tokens inside ``key``."""
    if " " not in key:
        return set()
    tokens = key.split()
    size = len(tokens)
    return {" ".join(tokens[i:j]) for i in range(size) for j in range(i + 1, size + 1) if j - i < size}


def _singulars(token: str) -> list[str]:
    """Likely singulars of an English plural token (cheap and conservative)."""
    if len(token) < 4 or not token.endswith("s") or token.endswith(("ss", "us", "is")):
        return []
    if token.endswith("ies"):
        return [token[:-3] + "y"]
    return [token[:-1], token[:-2]] if token.endswith("es") else [token[:-1]]
