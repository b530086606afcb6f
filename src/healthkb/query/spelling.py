""""Did you mean": corrections from the real words of the KB (not stems).

The catalog keeps every word that occurs in the KB with its document
frequency.  A query word the KB does not have is replaced by the most common
known word within a small edit distance that starts with the same letter.
"""

from __future__ import annotations

from healthkb.index.catalog import Catalog
from healthkb.index.schema import WORD_PATTERN, fold_for_index

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


def correct_word(catalog: Catalog, word: str, max_distance: int | None = None) -> str | None:
    """The best known word close to ``word``, or None."""
    if len(word) < 3 or word.isdigit():
        return None
    limit = max_distance if max_distance is not None else (1 if len(word) < 5 else 2)
    best: tuple[int, int, str] | None = None
    for candidate, df in catalog.words_starting(word[0], len(word) - limit, len(word) + limit):
        if candidate == word:
            continue
        distance = edit_distance(word, candidate, limit)
        if distance <= limit:
            rank = (distance, -df, candidate)
            if best is None or rank < best:
                best = rank
    return best[2] if best else None


def suggest_query(catalog: Catalog, query: str) -> str | None:
    """The query with each unknown word corrected, or None if nothing changes."""
    changed = False
    out = []
    budget = MAX_CORRECTED_WORDS
    for token in query.split():
        bare = token.strip("\"'()")
        lowered = fold_for_index(bare)
        if ":" in bare or "*" in bare or "?" in bare or lowered in _OPERATORS or not WORD_PATTERN.fullmatch(lowered):
            out.append(token)
            continue
        if budget <= 0 or catalog.word_df(lowered) > 0:
            out.append(token)
            continue
        budget -= 1
        fixed = correct_word(catalog, lowered)
        if fixed:
            out.append(token.replace(bare, fixed))
            changed = True
        else:
            out.append(token)
    return " ".join(out) if changed else None
