"""Reading the query: what a person typed, made safe to search.

Decides what is cut off (length limits, control characters) and which typed
input cannot be searched at all (empty, only wildcards, a field with no
word after it). It returns the text to search and the notices to show.
"""

from __future__ import annotations

import re

from healthkb.errors import BadInputError
from healthkb.index.schema import WORD_PATTERN, fold_for_index
from healthkb.text import clean_line

MAX_QUERY_WORDS = 64
MAX_QUERY_CHARS = 500
_WILDCARD_ONLY = re.compile(r"^[\s*?]*$")
# A field prefix with nothing searchable after it: "title:", "title: x", 'title:"'.
_EMPTY_FIELD = re.compile(r"(?<![\w:])(title|body|footer|id):[\"()]*(?=\s|$)", re.IGNORECASE)
_WEAK_WILDCARD = re.compile(r"(?<![\w*?])([^\s*?:\"()]{0,1})[*?]")


def clean_query(text: str) -> tuple[str, list[str]]:
    """Validate and tidy a user's query; raise BadInputError for unusable ones."""
    text = clean_line(text)
    notices: list[str] = []
    if not text:
        raise BadInputError("the search query is empty", hint='try: healthkb search "lumbar"')
    if _WILDCARD_ONLY.match(text):
        raise BadInputError("a query needs at least one word besides * and ?", hint="`healthkb list` shows every article")
    if _WEAK_WILDCARD.search(text):
        raise BadInputError(
            "a wildcard needs at least two letters before it (e.g. herni*)",
            hint="short wildcards would match most of the index",
        )
    empty_field = _EMPTY_FIELD.search(text)
    if empty_field:
        name = empty_field.group(1)
        raise BadInputError(f"{name}: needs a word right after it (e.g. {name}:insomnia)")
    words = text.split()
    if len(words) > MAX_QUERY_WORDS:
        text = " ".join(words[:MAX_QUERY_WORDS])
        notices.append(f"the query was shortened to its first {MAX_QUERY_WORDS} words")
    if len(text) > MAX_QUERY_CHARS:
        # Whoosh's query tagger is quadratic in the length of a word: a 10 KB
        # "word" takes seconds to parse.  Cut at a space when there is one.
        cut = text[:MAX_QUERY_CHARS]
        text = cut.rsplit(" ", 1)[0] if " " in cut.strip() else cut
        notices.append(f"the query was shortened to its first {len(text)} characters")
    if not WORD_PATTERN.search(fold_for_index(text)):
        raise BadInputError("the search query has no words to look for")
    return text, notices

