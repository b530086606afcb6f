""""Did you mean": corrections from the real words of the KB (not stems).

Decides which words are misspelt and what they become. Only a word that is
not a word is corrected: one found in the KB, in the health vocabulary or in
a general English word list is never replaced ("pins and needles" stays as
typed, and so does "cafe"). The English list is pyspellchecker's frequency
list (160,000 words from a large English corpus, kept up by that project),
looked up only when a correction is considered, that is when a query word is
missing from the KB, in a compact copy in the user cache (wordlist.py). A word the KB does not have is replaced by the most
common KB word within a small edit distance that starts with the same
letter; a short word (under :data:`SHORT_WORD` letters) only by a word one
edit away that at least :data:`SHORT_MIN_DF` articles use.
"""

from __future__ import annotations

from collections.abc import Callable

from healthkb.index.catalog import Catalog
from healthkb.index.schema import WORD_PATTERN, fold_for_index

SHORT_WORD = 5
SHORT_MIN_DF = 3

_OPERATORS = {"and", "or", "not", "andnot", "andmaybe", "to"}
# Unknown words corrected per query: each is compared with every known word of
# its first letter and length, so 64 nonsense words took seconds (bounds.py).
MAX_CORRECTED_WORDS = 8


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count 1), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def correct_word(catalog: Catalog, word: str, max_distance: int | None = None, min_df: int = 1) -> str | None:
    """The best known word close to ``word`` used by ``min_df`` articles or more, or None."""
    if len(word) < 3 or word.isdigit():
        return None
    short = len(word) < SHORT_WORD
    limit = max_distance if max_distance is not None else (1 if short else 2)
    best: tuple[int, int, str] | None = None
    for candidate, df in catalog.words_starting(word[0], len(word) - limit, len(word) + limit):
        if candidate == word or df < (max(min_df, SHORT_MIN_DF) if short else min_df):
            continue
        distance = edit_distance(word, candidate, limit)
        if distance <= limit:
            rank = (distance, -df, candidate)
            if best is None or rank < best:
                best = rank
    return best[2] if best else None


def suggest_query(catalog: Catalog, query: str, is_word: Callable[[str], bool], *, hint: bool = False) -> str | None:
    """The query with each word that is not a word corrected, or None if
    nothing changes. ``is_word`` says whether a folded word is a real word
    (English or the health vocabulary). A replacement (the rescue) never
    touches a real word; a ``hint`` ("did you mean") may offer one for a
    real word the KB lacks, when it has 5+ letters and the KB word one edit
    away is used by 3+ articles ("lumber" -> "lumbar", not "cafe" -> "care")."""
    changed = False
    out = []
    budget = MAX_CORRECTED_WORDS
    for token in query.split():
        bare = token.strip("\"'()")
        lowered = fold_for_index(bare)
        if ":" in bare or "*" in bare or "?" in bare or lowered in _OPERATORS or not WORD_PATTERN.fullmatch(lowered):
            out.append(token)
            continue
        fixed = None
        if budget <= 0 or catalog.word_df(lowered) > 0:
            pass
        elif not is_word(lowered):
            budget -= 1
            fixed = correct_word(catalog, lowered)
        elif hint and len(lowered) >= SHORT_WORD:
            budget -= 1
            fixed = correct_word(catalog, lowered, max_distance=1, min_df=SHORT_MIN_DF)
        if fixed:
            out.append(token.replace(bare, fixed))
            changed = True
        else:
            out.append(token)
    return " ".join(out) if changed else None
