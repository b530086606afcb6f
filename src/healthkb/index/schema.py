"""The Whoosh schema and the analyzer behind it.

Imported only by commands that touch the index (Whoosh costs ~50 ms to
import).  One tokenizer does lower-casing, accent folding, stop words and
Porter stemming in a single pass: Whoosh's usual chain of generator filters
spends most of the indexing time passing Token objects between filters, and
the same object serves queries and highlighting, so they always agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from whoosh import fields, formats
from whoosh.system import pack_uint
from whoosh.analysis import STOP_WORDS, Token, Tokenizer
from whoosh.lang.porter import stem as porter_stem

from healthkb.index.safepickle import install as _install_safe_unpickler

_install_safe_unpickler()  # every module that opens an index imports this one first

WORD_PATTERN = re.compile(r"\w+(?:\.?\w+)*")
# Characters that may sit inside a word of unfolded text without ending it:
# combining marks (text stored decomposed, NFD) and invisible format
# characters (zero-width spaces and joiners, soft hyphens).  Folding removes them.
_IN_WORD = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u00ad\u200b-\u200d\u2060\ufeff"
_WIDE_WORD_PATTERN = re.compile(rf"\w[\w{_IN_WORD}]*(?:\.?\w[\w{_IN_WORD}]*)*")
_DROPPED = frozenset(range(0x0300, 0x0370)) | {0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF}
TITLE_BOOST = 3.0


class _FoldTable(dict):
    """str.translate table: each non-ASCII character to its accent-free form.

    Whoosh's accent_map knows Latin letters only; this also folds Greek,
    Cyrillic and the rest (NFKD, then combining marks dropped), computed once
    per character and cached.
    """

    def __missing__(self, codepoint: int) -> str:
        # Imported on the first non-ASCII character: most queries have none,
        # and the table costs ~1 ms to load.
        from whoosh.support.charset import accent_map

        char = chr(codepoint)
        mapped = accent_map.get(codepoint)
        if codepoint in _DROPPED or unicodedata.combining(char) or unicodedata.category(char) == "Cf":
            mapped = ""  # a lone combining mark or an invisible character: not part of any term
        elif mapped is None:
            decomposed = unicodedata.normalize("NFKD", char)
            mapped = "".join(c for c in decomposed if not unicodedata.combining(c)) or char
        elif isinstance(mapped, int):
            mapped = chr(mapped)
        self[codepoint] = mapped
        return mapped


_FOLD = _FoldTable()


def fold_for_index(text: str) -> str:
    """Lower-case and strip accents the way the index does ("Café" → "cafe").

    Text is composed (NFC) first, so an article saved decomposed (NFD, as
    macOS file systems and some editors do) and a query typed composed give
    the same terms; invisible characters are dropped."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    return unicodedata.normalize("NFC", lowered).translate(_FOLD)


def folded_words(text: str):
    """(start, end, folded word) of every word of ``text``, offsets into ``text``.

    When folding keeps lengths the words are found in the folded text (fast);
    when it does not (decomposed accents, invisible characters, ligatures)
    they are found in ``text`` itself, so offsets stay exact for highlighting."""
    folded = fold_for_index(text)
    if len(folded) == len(text):
        for match in WORD_PATTERN.finditer(folded):
            yield match.start(), match.end(), match.group()
        return
    for match in _WIDE_WORD_PATTERN.finditer(text):
        yield match.start(), match.end(), fold_for_index(match.group())


class HealthTokenizer(Tokenizer):
    """Words → lower-case, accent-folded, stop-word-free, optionally stemmed terms."""

    def __init__(self, stem: bool = True, minsize: int = 2) -> None:
        self.stem = stem
        self.minsize = minsize
        self._stops = frozenset(STOP_WORDS)
        self._cache: dict[str, str] = {}
        # When a set: terms() adds every folded word it sees (stop words too),
        # so a build gets the spelling vocabulary from the same pass.
        self.word_sink: set[str] | None = None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (other.stem, other.minsize) == (self.stem, self.minsize)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.stem, self.minsize))

    def __getstate__(self) -> dict:
        # The stem cache is per process; never pickle it into the index's TOC.
        return {"stem": self.stem, "minsize": self.minsize}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def term_of(self, word: str) -> str | None:
        """The index term of one folded word, or None for a stop word."""
        if len(word) < self.minsize or word in self._stops:
            return None
        if not self.stem:
            return word
        stemmed = self._cache.get(word)
        if stemmed is None:
            stemmed = self._cache[word] = porter_stem(word)
        return stemmed

    def terms(self, value: str) -> list[str]:
        """The terms of ``value`` in order, exactly as ``__call__`` yields them.

        The indexing fast path: one C-level ``findall`` and a list
        comprehension instead of a generator of Token objects.
        """
        text = fold_for_index(value)
        found = WORD_PATTERN.findall(text)
        if self.word_sink is not None:
            self.word_sink.update(found)
        if len(text) != len(value):  # folding changed lengths: take the careful path
            return [t.text for t in self(value)]
        stops, cache, minsize = self._stops, self._cache, self.minsize
        words = [w for w in found if len(w) >= minsize and w not in stops]
        if not self.stem:
            return words
        if len(cache) > 100_000:
            cache.clear()
        missing = {w for w in words if w not in cache}
        for word in missing:
            cache[word] = porter_stem(word)
        return [cache[w] for w in words]

    def __call__(  # noqa: PLR0913 - Whoosh's analyzer protocol
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            # Whoosh asks for the value as one token (e.g. wildcard text).
            token.original = token.text = fold_for_index(value)
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        stops, cache, minsize, do_stem = self._stops, self._cache, self.minsize, self.stem
        pos = start_pos
        for start, end, word in folded_words(value):
            if len(word) < minsize or word in stops:
                if not removestops:
                    token.text, token.stopped, token.boost = word, True, 1.0
                    if positions:
                        token.pos = pos
                    if chars:
                        token.startchar, token.endchar = start_char + start, start_char + end
                    yield token
                continue
            if do_stem:
                stemmed = cache.get(word)
                if stemmed is None:
                    stemmed = cache[word] = porter_stem(word)
                    if len(cache) > 100_000:
                        cache.clear()
                word = stemmed
            token.text, token.stopped, token.boost = word, False, 1.0
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = pos
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            pos += 1
            yield token


def _varints(values) -> bytes:
    out = bytearray()
    for value in values:
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out)


def _read_varints(data: bytes) -> list[int]:
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            values.append(value)
            value, shift = 0, 0
    return values


class CompactPositions(formats.Positions):
    """Positions stored as varints: a count, then the gaps between positions.

    Whoosh's own Positions stores a 4-byte count and a pickled list, about
    13 bytes for the typical term that occurs once in an article; this takes
    2.  Posting values are most of the index, so this is most of its size.
    """

    def encode(self, poslist) -> bytes:
        if len(poslist) == 1 and poslist[0] < 0x80:
            return bytes((1, poslist[0]))
        gaps, base = [], 0
        for position in poslist:
            gaps.append(position - base)
            base = position
        return _varints([len(gaps), *gaps])

    def decode_positions(self, valuestring: bytes) -> list[int]:
        positions, position = [], 0
        for gap in _read_varints(valuestring)[1:]:
            position += gap
            positions.append(position)
        return positions

    def decode_frequency(self, valuestring: bytes) -> int:
        count, shift = 0, 0
        for byte in valuestring:
            count |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return count
            shift += 7
        return count


class HealthText(fields.TEXT):
    """A TEXT field whose indexing skips Whoosh's per-token machinery.

    ``index()`` returns the same (term, frequency, weight, encoded value)
    tuples as ``TEXT.index`` with our tokenizer would (a test checks they
    agree), computed from :meth:`HealthTokenizer.terms` in one pass.
    """

    def index(self, value, **kwargs):
        analyzer = self.analyzer
        if not isinstance(value, str) or not isinstance(analyzer, HealthTokenizer):
            yield from super().index(value, **kwargs)
            return
        terms = analyzer.terms(value)
        boost = self.format.field_boost
        if isinstance(self.format, formats.Positions):
            encode = self.format.encode
            positions: dict[str, list[int]] = {}
            for position, term in enumerate(terms):
                if term in positions:
                    positions[term].append(position)
                else:
                    positions[term] = [position]
            for term, where in positions.items():
                yield term.encode("utf-8"), len(where), len(where) * boost, encode(where)
        elif type(self.format) is formats.Frequency:
            for term, count in Counter(terms).items():
                yield term.encode("utf-8"), count, count * boost, pack_uint(count)
        else:
            yield from super().index(value, **kwargs)


def build_schema() -> fields.Schema:
    """id (unique, stored); title and body (stemmed, with positions for phrases).

    The footer (nav and teaser texts) is not indexed for full text: it quotes
    other articles, so matching it would rank an article for its neighbours'
    words, and it added a fifth of the postings.  The catalog keeps it."""
    analyzer = HealthTokenizer()
    title = HealthText(analyzer=analyzer, phrase=True, field_boost=TITLE_BOOST)
    body = HealthText(analyzer=analyzer, phrase=True)
    for field in (title, body):
        field.format = CompactPositions(field_boost=field.format.field_boost)
    return fields.Schema(id=fields.ID(unique=True, stored=True), title=title, body=body)
