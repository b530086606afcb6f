"""Zero-result rescue (issue 9): all words → any word → spelling → fuzzy →
titles, each step said to the user and named in JSON (``rescue``), in that
order; a search that finds nothing at all says what to try.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clihelp import Run, article, run_cli
from healthkb.index.api import open_index
from healthkb.query.rescue import FUZZY_MIN_LETTERS, fuzzy_parts, title_matches
from healthkb.kb import KB


def search(*args: str) -> Run:
    return run_cli("search", *args)


KB_FILES = {
    "back/lumbar-support.txt": article(
        "The lumbar spine carries most of the upper body. A small cushion behind the lower back keeps "
        "its natural curve while sitting, and a herniation of a disc there presses on nerves. "
        "A physiotherapist shows exercises that help."
    ),
    "seasonal/hot-water-bottles-and-heat-packs.txt": article(
        "Fill a rubber bottle from the kettle only up to two thirds and wrap it in a cover before use."
    ),
    "sleep/sleep-apnea-basics.txt": article("Breathing stops briefly many times a night in this condition."),
    "sleep/sleeping-well.txt": article("A regular bedtime and a dark, cool bedroom help most people rest."),
    "sleep/why-we-sleep.txt": article("Rest at night restores the body and lets memories settle."),
}


@pytest.fixture
def kb(make_kb) -> Path:
    return make_kb(KB_FILES)


def test_all_words_then_any_word(kb):
    result = search("lumbar zzqqxx", "--json")
    assert result.code == 0 and result.ids() == ["back/lumbar-support"]
    assert (result.json["rescue"], result.json["fallback"]) == ("any", "any")
    assert "any of them" in result.stderr
    assert search("lumbar spine", "--json").json["rescue"] is None


def test_spelling_runs_the_corrected_query_and_says_so(kb):
    result = search("lumbr", "--json")
    assert result.code == 0 and result.ids() == ["back/lumbar-support"]
    assert result.json["rescue"] == "spelling" and result.json["suggestion"] == "lumbar"
    human = search("lumbr")
    assert human.code == 0 and "back/lumbar-support" in human.stdout
    assert 'showing results for "lumbar"' in human.stderr
    assert "did you mean" not in human.stderr  # already done, not offered


def test_spelling_comes_before_fuzzy(kb):
    # "lumbr" is also one edit from the index term "lumbar": the earlier step wins.
    assert search("lumbr", "--json").json["rescue"] == "spelling"


def test_fuzzy_matching_catches_what_spelling_cannot(kb):
    # Spelling only corrects to words with the same first letter.
    result = search("kumbar", "--json")
    assert result.code == 0 and result.ids() == ["back/lumbar-support"]
    assert result.json["rescue"] == "fuzzy" and result.json["suggestion"] is None
    assert "near matches" in search("kumbar").stderr
    # Two edits are too many for a word of 5-7 letters.
    assert search("kumbaz", "--json").json["rescue"] != "fuzzy"


def test_fuzzy_distance_depends_on_the_words_length(kb):
    with open_index(KB(kb, "option")) as ix:
        searcher = ix.searcher()

        def near_terms(word: str) -> set[str]:
            parts = fuzzy_parts(searcher, [word])
            return {term.text for part in parts or [] for term in part.subqueries}

        # Stems are compared, and their length sets the distance.
        assert "physiotherapist" in near_terms("physoitherapist")  # 15 letters: two edits
        assert "lumbar" in near_terms("lumbaz")  # 6 letters: one edit
        assert near_terms("lumbzz") == set()  # 6 letters, two edits: no
        # "hreniation" has 10 letters but its stem "hreniat" 7: one edit only.
        assert near_terms("hreniation") == set()
        assert fuzzy_parts(searcher, ["lumb"]) is None  # under 5 letters: never fuzzed
        assert FUZZY_MIN_LETTERS == 5


def test_titles_that_contain_the_words_come_last(kb):
    # Run together, the words are in no text and near no word, but in a title.
    result = search("heatpack", "--json")
    assert result.code == 0
    assert result.ids() == ["seasonal/hot-water-bottles-and-heat-packs"]
    assert result.json["rescue"] == "title"
    assert "titles contain" in search("heatpack").stderr


def test_titles_that_start_with_the_query_rank_first(kb):
    with open_index(KB(kb, "option")) as ix:
        ranked = title_matches(ix.catalog, "sleep", ["sleep"])
    ids = [article_id for article_id, _score in ranked]
    assert set(ids[:2]) == {"sleep/sleep-apnea-basics", "sleep/sleeping-well"}
    assert ids[2] == "sleep/why-we-sleep"
    assert ranked[0][1] > ranked[2][1]


def test_nothing_at_all_says_what_to_try(kb):
    result = search("zzqqxxvv")
    assert result.code == 1 and result.stdout == ""
    assert "nothing matched" in result.stderr and "healthkb list" in result.stderr
    as_json = search("zzqqxxvv", "--json")
    assert as_json.code == 1 and as_json.json["rescue"] is None and as_json.json["hits"] == []


def test_queries_with_syntax_skip_fuzzy_and_titles(kb):
    # A field or a phrase is precise: no near words, no title guesses.
    assert search("title:kumbar", "--json").code == 1
    assert search('"heatpack"', "--json").code == 1
    # Spelling keeps the syntax and still helps.
    fixed = search('"lumbr spine"', "--json")
    assert fixed.json["rescue"] == "spelling" and fixed.json["suggestion"] == '"lumbar spine"'
    assert fixed.ids() == ["back/lumbar-support"]
