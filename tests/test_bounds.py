"""Bounds on expensive queries (issue 13, "Bounds"): wildcards, ranges, fuzzy
terms, many OR-ed prefixes and very long queries search a bounded number of
index terms and say so.  Their speed at 20,000 articles is measured by
scripts/bench_bounds.py; here the behaviour is checked on a small KB built so
that the patterns expand to thousands of words."""

from __future__ import annotations

import itertools
import string

import pytest
from whoosh.query import FuzzyTerm, Prefix, Term

from clihelp import article, run_cli
from healthkb.index.api import open_index
from healthkb.kb import resolve_kb
from healthkb.query import bounds

SYLLABLES = ["".join(p) for p in itertools.product("bdfgklmnprstvz", "aeiou")]  # 70


def _words(prefix: str, count: int) -> list[str]:
    """``count`` distinct made-up words starting with ``prefix``."""
    return [prefix + a + b for a, b in itertools.islice(itertools.product(SYLLABLES, SYLLABLES), count)]


@pytest.fixture
def wide_kb(make_kb):
    """60 articles: 'co' words of every frequency (co-common in all articles,
    each of 600 'co' words in one article) and 3,000 other distinct words."""
    rare = _words("co", 600)
    other = _words("x", 3000)
    files = {}
    for n in range(60):
        mine = rare[n * 10 : (n + 1) * 10] + other[n * 50 : (n + 1) * 50]
        body = f"Article {n} about cocommon and coshared{n % 3}. " + " ".join(mine) + "."
        files[f"a/article-{n:02d}.txt"] = article(body)
    files["a/only-rare.txt"] = article("Nothing common here, just cozzzrare and quiet words.")
    return make_kb(files)


def test_a_wildcard_with_many_words_searches_the_most_common(wide_kb):
    result = run_cli("search", "co*", "--json", "--limit", "100")
    assert result.code == 0
    assert "healthkb: co* matches 606 words; searched the 200 most common" in result.notices()
    ids = result.ids()
    assert len(ids) == 60 and "a/only-rare" not in ids  # cozzzrare is in one article: not among the kept


def test_a_wildcard_with_few_words_is_searched_whole_and_silently(wide_kb):
    result = run_cli("search", "coshared*", "--json")
    assert result.code == 0 and not result.notices()
    assert len(result.ids()) == 10


def test_a_range_over_every_word_is_cut_and_says_so(wide_kb):
    result = run_cli("search", "[a TO z]", "--json")
    assert result.code == 0
    assert any("[a TO z] matches more than 2,000 words; searched the 200 most common of the first 2,000" in n
               for n in result.notices())
    assert result.json["total"] >= 60


def test_many_or_ed_prefixes_share_one_budget_and_one_notice(wide_kb):
    prefixes = ["co", "xb", "xd", "xf", "xg", "xk", "xl", "xm", "xn", "xp"] + [
        "".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2)
    ][:120]
    result = run_cli("search", " OR ".join(f"{p}*" for p in prefixes), "--json")
    assert result.code == 0
    notices = result.notices()
    assert "healthkb: only the first 8 wildcards or ranges were searched; 24 more were left out" in notices
    assert any("wildcards or ranges match too many words; searched the most common of each" in n for n in notices)
    assert result.json["total"] > 0
    anded = run_cli("search", " ".join(f"{p}*" for p in prefixes[:20]), "--json")
    assert anded.code == 0 and anded.json["rescue"] == "any"  # no article has them all
    assert "healthkb: only the first 8 wildcards or ranges were searched; 12 more were left out" in anded.notices()


def test_fuzzy_and_very_long_queries_finish_with_a_notice(wide_kb):
    assert run_cli("search", "cocommon~2", "--json").code == 0
    long = run_cli("search", " ".join(["cocommon"] + _words("x", 9999)), "--json")
    assert long.code in (0, 1)
    assert any("shortened" in n for n in long.notices())
    nonsense = run_cli("search", " ".join(_words("qz", 9999)), "--json")
    assert nonsense.code == 1 and any("shortened" in n for n in nonsense.notices())


def test_bound_query_keeps_the_most_frequent_expansions_within_the_budgets(wide_kb):
    with open_index(resolve_kb(None)) as ix:
        reader = ix.searcher().searcher.reader()
        bounded = bounds.bound_query(Prefix("body", "co"), reader)
        kept = [b.decode() for b in bounded.query._btexts(reader)]
        assert len(kept) == bounds.KEEP_PER_PATTERN
        assert {"cocommon", "coshared0", "coshared1", "coshared2"} <= set(kept)
        # Twenty patterns share the query's budget.
        many = bounds.bound_query(Prefix("body", "co") | Prefix("body", "x") | Prefix("title", "a"), reader)
        sizes = [len(leaf.weighted) for leaf in many.query.leaves() if isinstance(leaf, bounds.TermSubset)]
        assert sizes and sum(sizes) <= bounds.KEEP_PER_QUERY
        # A fuzzy term is an expansion like any other; an ordinary term is left alone.
        fuzzy = bounds.bound_query(FuzzyTerm("body", "coba", maxdist=2, prefixlength=1) & Term("body", "cocommon"), reader)
        assert fuzzy.query.leaves()
        assert Term("body", "cocommon") in list(fuzzy.query.leaves())


@pytest.mark.parametrize("command", [["search", "cocommon"], ["similar", "a/article-01"]])
def test_the_hit_count_is_capped_at_100_per_page(wide_kb, command):
    assert run_cli(*command, "--limit", "100", "--json").code in (0, 1)  # 1: nothing similar enough
    result = run_cli(*command, "--limit", "101", "--json")
    assert result.code == 2 and result.stdout == "" and "100" in result.stderr
