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

from healthkb.vocabulary_text import (  # noqa: F401 - constants, Term, VocabularyProblem and fold are part of this API
    BUILTIN_SOURCE,
    BULK_SPLIT,
    MAX_ALTERNATIVES_PER_SPAN,
    MAX_ALTERNATIVES_TOTAL,
    MAX_GROUP_TERMS,
    MAX_TERM_WORDS,
    Term,
    USER_FILE_NAME,
    VocabularyProblem,
    aligned_raw_tokens,
    compose,
    fold,
    parse_line,
    read_builtin,
    read_user_file,
    singulars,
    split_tokens,
    sub_phrases,
    term_identity,
    without_bom,
)

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

    def words(self) -> frozenset[str]:
        """Every word of every term, folded (the spelling step never replaces them)."""
        return frozenset(token for key in self._index for token in key.split())

    def group_of(self, text: str) -> tuple[Term, ...] | None:
        """The group a term belongs to, matched as a query would match it."""
        hit = self._lookup(" ".join(split_tokens(fold(text))), " ".join(split_tokens(compose(text))), False)
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
            tokens += split_tokens(fold(word))
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
                            raw_tokens = aligned_raw_tokens(words, starts)
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

        seen = {term_identity(term) for *_, term in matches}
        searched = {term.key for *_, term in matches}
        spans: list[SpanExpansion] = []
        total, truncated = 0, False
        for start, end, group, term in matches:
            fresh = [
                alt
                for alt in self._terms(group)
                if term_identity(alt) not in seen and (include_case_sensitive or not alt.case_sensitive)
            ]
            # A phrase search for "myocardial infarction" already finds "acute
            # myocardial infarction": drop the longer phrase to keep room for
            # real variants, and move the shorter one up to the longer's place.
            inside = [sub_phrases(alt.key) for alt in fresh]
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
                seen.update(term_identity(alt) for alt in fresh)
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
            candidates += [f"{stem} {s}" if stem else s for s in singulars(last)]
        for candidate in candidates:
            group = self._index.get(candidate)
            if group is not None:
                term = next(t for t in self._terms(group) if t.key == candidate and not t.case_sensitive)
                return group, term
        return None

    def _terms(self, group: int) -> list[Term]:
        entry = self._groups[group]
        if isinstance(entry, str):  # a line the fast path vouched for
            entry = self._groups[group] = parse_line(entry, "", 0)[0]
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
        folded = (data or text.encode()).lower().translate(BULK_SPLIT, b"'`").replace(b"\n", b"\x02")
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
                key, raw = part[1:].strip(), " ".join(split_tokens(piece[1:]))
                if part.count("=") > 1 or part[0] != "=" or not key or raw in self._cased.get(key, ()):
                    return False
                out.append((key, raw))
        return len({raw for _, raw in out}) == len(out)

    def _add_line(self, line: str, source: str, line_no: int) -> None:
        terms, problems = parse_line(line, source, line_no)
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
        data = without_bom(read_builtin())
        builtin._add_text(data.decode(), BUILTIN_SOURCE, data)
    extra = [os.fspath(path) for path in extra_paths]
    if not extra:
        return builtin
    vocabulary = builtin._copy()
    for path in extra:
        text = read_user_file(path, vocabulary.problems)
        if text is not None:
            vocabulary._add_text(text, path)
    return vocabulary


def user_vocabulary_paths(state_dir: os.PathLike[str] | str) -> list[str]:
    """The KB's own vocabulary file in its ``.healthkb`` folder, if it has one."""
    path = os.path.join(os.fspath(state_dir), USER_FILE_NAME)
    return [path] if os.path.isfile(path) else []


_CACHE: dict[str, Vocabulary] = {}
