"""Reading the query: what a person typed, made safe to search.

Decides which of the typed characters are query syntax and which are prose.
Prose is searched as its words: ``?``, ``!``, ``.``, ``,``, ``#``,
apostrophes, colons inside text ("Re:NDC# 0115"), unbalanced quotes and
brackets, and capitalised AND/OR/NOT inside a sentence are read as plain
text. Syntax stays only where it is clearly meant:

* a known field and a colon followed by a word or phrase (``title:insomnia``);
* a balanced ``"quoted phrase"``;
* a range, ``[a TO z]`` or ``title:{m TO p]``;
* ``word*`` with two or more letters before the star, and ``?`` inside a
  word (``lumb?r``); a ``?`` ending a word or a sentence is punctuation;
* ``AND``/``OR``/``NOT`` between keywords, in a query without sentence
  punctuation or common words (``headache OR migraine``), and then also
  balanced parentheses.

A message (prose of more than :data:`MESSAGE_MIN_WORDS` words) has no
syntax at all: people quote and use colons in sentences.

It also cuts what is too long (with a notice) and raises
:class:`~healthkb.errors.NotFoundError` (exit 1, never a usage error) when
nothing searchable is left. The result is a :class:`ReadQuery`; one notice
says when something typed was read as plain text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from healthkb.errors import NotFoundError
from healthkb.index.schema import WORD_PATTERN, fold_for_index
from healthkb.text import clean_line

MAX_QUERY_WORDS = 100  # plain words (a long message; the question step keeps its rarest)
MAX_SYNTAX_WORDS = 64  # with query syntax
MAX_QUERY_CHARS = 500  # with query syntax (the parser is slow on long text)
MAX_PLAIN_CHARS = 2000  # plain words: a long message, but bounded
MAX_WORD_CHARS = 60  # longer "words" are not words (and cost the stemmer and the spelling step)
MAX_INPUT_CHARS = 20_000  # read at most this much of a pasted text: the rest cannot be searched anyway
FIELDS = ("title", "body")
MESSAGE_MIN_WORDS = 8  # prose longer than this is a message: no syntax in it at all
OPERATORS = ("AND", "OR", "NOT")
# Whoosh syntax that, read as text, deserves a word to the person who typed it.
_SYNTAX_CHARS = set('*?:"()^~[]{}')
_TOKEN = re.compile(
    r'(?P<field>(?<![\w:])(?:' + "|".join(FIELDS) + r'):(?:"[^"]+"|[^\W_][\w\'-]*\*?))'
    r'|(?P<emptyfield>(?<![\w:])(?:' + "|".join(FIELDS) + r'):(?=[\s"()]|$))'
    r'|(?P<range>(?<![\w:])(?:(?:' + "|".join(FIELDS) + r'):)?[\[{][^\]{}\[]*\sTO\s[^\]{}\[]*[\]}])'
    r'|(?P<phrase>"[^"]*\w[^"]*")'
    r'|(?P<star>(?<![\w*?])[^\W\d_][^\W_]+(?:\*|\?[^\W_][^\W_?*]*\*?)(?![\w*?]))'
    r'|(?P<op>(?<!\S)(?:AND|OR|NOT)(?!\S))'
    r'|(?P<paren>[()])'
    r"|(?P<word>[^\W_]+(?:[-'\u2019][^\W_]+)*)"
    r"|(?P<other>\S)",
    re.IGNORECASE,
)
_SYNTAX_RUN = re.compile(r'[*?:"()^~\[\]{}]+')
_SENTENCE_MARK = re.compile(r"\w[?!.,;]+(?:\s|$)|(?<!\S)\?(?!\S)")
_COMMON = frozenset("""a an and are as at be by can for from have i if in is it its me my of on or
    that the this to was what when where which who why how will with you your do does""".split())


@dataclass
class ReadQuery:
    """What to search: ``text`` for the query parser when ``syntax``, else
    plain words (``words``) to be searched as typed."""

    text: str
    syntax: bool
    words: list[str]
    question_mark: bool = False  # the person asked ("?"): a hint the text is a question
    notices: list[str] = field(default_factory=list)


def read_query(text: str) -> ReadQuery:
    """Read ``text`` as a person typed it; raise NotFoundError when nothing
    searchable is in it."""
    notices: list[str] = []
    if len(text) > MAX_INPUT_CHARS:
        text = text[:MAX_INPUT_CHARS]
    # NFC, and no invisible format characters: "bru\u0302le\u0301e" and
    # "zuc\u200bchini" are the words the index holds (schema.py does the same).
    text = "".join(c for c in unicodedata.normalize("NFC", clean_line(text)) if unicodedata.category(c) != "Cf")
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]
    keywords = not _SENTENCE_MARK.search(text) and not any(
        value.lower() in _COMMON for kind, value in tokens if kind == "word")
    kept: list[str] = []
    read_as_text: set[str] = set()
    syntax = False
    # A message of many words in sentences quotes and uses colons as prose
    # does ('I heard of "sleep apnea surgery"'): all of it is plain text.
    message = not keywords and sum(kind == "word" for kind, _v in tokens) > MESSAGE_MIN_WORDS
    for n, (kind, value) in enumerate(tokens):
        if message and kind in ("field", "phrase", "star", "range"):
            read_as_text.update(c for c in value if c in _SYNTAX_CHARS)
            kept.append(_SYNTAX_RUN.sub(" ", value))
            continue
        if kind == "op":
            between = 0 < n < len(tokens) - 1 and tokens[n - 1][0] != "op" and tokens[n + 1][0] not in ("op",)
            if keywords and between and (value != "NOT" or n + 1 < len(tokens)):
                kept.append(value)
                syntax = True
            else:
                kept.append(value.lower())  # "and" in prose: a stop word, searched as a word
                if value.isupper():
                    read_as_text.add(value)
            continue
        if kind in ("field", "phrase", "star", "range"):
            kept.append(value)
            syntax = True
        elif kind in ("word", "paren"):
            kept.append(value)
        elif kind == "emptyfield":  # "title:" with no word after it: a field of nothing
            read_as_text.add(value)
            kept.append(" ")
        else:  # punctuation and symbols: read as a space
            if value in _SYNTAX_CHARS:
                read_as_text.add(value)
            kept.append(" ")
    if "(" in kept or ")" in kept:
        if not (syntax and keywords and _balanced(kept)):
            read_as_text.update(p for p in ("(", ")") if p in kept)
            kept = [" " if token in ("(", ")") else token for token in kept]
    searched = " ".join(" ".join(kept).split())
    if "?" in read_as_text and not re.search(r"\?\w", text):
        read_as_text.discard("?")  # ending a word or a sentence: punctuation, obviously so
    if read_as_text:
        shown = " ".join(sorted(read_as_text))
        notices.append(f"read as plain text, not query syntax: {shown}")
    searched, cut_notices = _shorten(searched, syntax)
    notices += cut_notices
    words = [w for w in searched.split() if not (syntax and w in OPERATORS)]
    if not WORD_PATTERN.search(fold_for_index(searched)):
        raise NotFoundError(
            "nothing searchable was left in the query: it has no words",
            hint='try: healthkb search "lumbar"',
        )
    return ReadQuery(searched, syntax, words, "?" in text, notices)


def _balanced(tokens: list[str]) -> bool:
    depth = 0
    for token in tokens:
        depth += token == "("
        depth -= token == ")"
        if depth < 0:
            return False
    return depth == 0


def _shorten(text: str, syntax: bool) -> tuple[str, list[str]]:
    notices = []
    words = text.split()
    most = MAX_SYNTAX_WORDS if syntax else MAX_QUERY_WORDS
    if len(words) > most:
        text = " ".join(words[:most])
        notices.append(f"the query was shortened to its first {most} words; the rest was ignored")
    if any(len(word) > MAX_WORD_CHARS for word in words):
        text = " ".join(word[:MAX_WORD_CHARS] for word in text.split())
        notices.append(f"words longer than {MAX_WORD_CHARS} characters were shortened")
    if len(text) > (MAX_QUERY_CHARS if syntax else MAX_PLAIN_CHARS):
        # Whoosh's query tagger is quadratic in the length of a word: a 10 KB
        # "word" takes seconds to parse.  Cut at a space when there is one.
        cut = text[: MAX_QUERY_CHARS if syntax else MAX_PLAIN_CHARS]
        text = cut.rsplit(" ", 1)[0] if " " in cut.strip() else cut
        notices.append(f"the query was shortened to its first {len(text)} characters; the rest was ignored")
    return text, notices
