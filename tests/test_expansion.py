"""Health-language search (issue 9): lay and clinical names, British and
American spellings and abbreviations find each other; --exact turns that off;
the output says what was added; a KB's own vocabulary extends the built-in
one and its problems are reported, never fatal; long and synonym-heavy
queries stay bounded. Through the CLI and the Searcher, on small KBs in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clihelp import article, run_cli
from healthkb.index.api import open_index
from healthkb.query.expansion import ALTERNATIVE_BOOST, MAX_ADDED, is_plain
from healthkb.kb import KB
from healthkb.synonyms import load_vocabulary


# Each article says its subject only in the words the examples do
# not type: the query must cross from one name to the other.
CLINICAL = {
    "heart/hypertension.txt": article(
        "Hypertension often causes no symptoms for years. Regular checks at the surgery find it early, "
        "and lifestyle changes lower the readings."
    ),
    "gut/reflux.txt": article(
        "Gastro-oesophageal reflux happens when stomach acid rises into the gullet after large meals, "
        "especially when lying down soon after eating."
    ),
    "skin/zoster.txt": article(
        "Herpes zoster is a painful rash on one side of the body, caused by the chickenpox virus waking up again."
    ),
    "blood/iron.txt": article("Anaemia from low iron makes people tired and pale; iron-rich foods help."),
    "blood/folate.txt": article("Anemia from low folate is treated with folic acid tablets taken daily."),
    "heart/readings.txt": article(
        "Blood pressure readings vary through the day, so several readings on different days are compared."
    ),
    "garden/roses.txt": article("Roses need sun, water and a little pruning in late winter to flower well."),
}


@pytest.fixture
def clinical(make_kb) -> Path:
    return make_kb(CLINICAL)


def search(*args: str) -> Run:
    return run_cli("search", *args)


# ---------------------------------------------------------------- the examples


def test_high_blood_pressure_finds_an_article_that_only_says_hypertension(clinical):
    result = search("high blood pressure", "--json")
    assert result.code == 0
    assert "heart/hypertension" in result.ids()
    assert "hypertension" in result.json["expanded"]
    human = search("high blood pressure")
    assert human.code == 0 and "heart/hypertension" in human.stdout
    also = [line for line in human.stderr.splitlines() if line.startswith("also searched: ")]
    assert len(also) == 1 and "hypertension" in also[0]
    # The article's own word is highlighted in its snippet.
    with open_index(KB(clinical, "option")) as ix:
        hit = next(h for h in ix.search("high blood pressure").hits if h.id == "heart/hypertension")
    assert [text.lower() for text, marked in hit.snippet if marked] == ["hypertension"]


def test_heartburn_finds_gastro_oesophageal_reflux(clinical):
    result = search("heartburn", "--json")
    assert result.ids() == ["gut/reflux"]
    assert "gastro-oesophageal reflux" in result.json["expanded"]


def test_shingles_finds_herpes_zoster(clinical):
    result = search("shingles", "--json")
    assert result.ids() == ["skin/zoster"]


@pytest.mark.parametrize("query", ["anemia", "anaemia", "Anaemia", "ANEMIA"])
def test_british_and_american_spellings_find_each_other(clinical, query):
    assert set(search(query, "--json").ids()) == {"blood/iron", "blood/folate"}


def test_bp_finds_blood_pressure(clinical):
    result = search("BP", "--json")
    assert "heart/readings" in result.ids()
    assert result.json["expanded"] == ["blood pressure"]


def test_exact_turns_expansion_off(clinical):
    for query, article_id in [("high blood pressure", "heart/hypertension"), ("shingles", "skin/zoster"),
                              ("anemia", "blood/iron")]:
        exact = search(query, "--exact", "--json")
        assert article_id not in exact.ids()
        assert exact.json["expanded"] == []
    human = search("shingles", "--exact")
    assert "also searched" not in human.stderr


def test_json_fields_for_a_plain_search(clinical):
    payload = search("roses", "--json").json
    assert payload["expanded"] == [] and payload["rescue"] is None and payload["fallback"] is None
    assert payload["hits"][0]["id"] == "garden/roses"


# ---------------------------------------------------------------- meaning and weights


def test_span_and_the_other_words_are_all_required(make_kb):
    make_kb({
        "diet.txt": article("Hypertension responds to a diet low in salt and rich in vegetables."),
        "pills.txt": article("Hypertension is also treated with tablets taken every morning."),
        "food.txt": article("A balanced diet has plenty of fruit and whole grains."),
    })
    result = search("high blood pressure diet", "--json")
    # The one article with every span first; those with some of them follow.
    assert result.ids()[0] == "diet" and set(result.ids()) == {"diet", "pills", "food"}
    assert result.json["fallback"] is None


def test_the_users_own_words_outrank_an_added_synonym(make_kb):
    text = "{} needs regular checks, and small daily changes to food and exercise help a great deal."
    make_kb({"own.txt": article(text.format("High blood pressure")),
             "synonym.txt": article(text.format("Hypertension"))})
    with open_index(KB(Path(make_kb({})), "option")) as ix:
        hits = ix.search("high blood pressure").hits
    assert [h.id for h in hits] == ["own", "synonym"]
    assert hits[0].score > hits[1].score > 0
    assert 0 < ALTERNATIVE_BOOST < 1


def test_a_phrases_words_get_their_spelling_variants(make_kb):
    make_kb({
        "fiber.txt": article("Dietary advice for constipation: foods rich in fiber, and enough water."),
        "dietary.txt": article("Dietary supplements are rarely needed by healthy adults."),
    })
    result = search("dietary fibre", "--json")
    assert result.ids() == ["fiber", "dietary"]  # all words matched first, not the any-word fallback
    assert result.json["fallback"] is None
    assert "fiber" in result.json["expanded"]
    # ...but only spellings: "hay fever" is not "hay pyrexia".
    assert "pyrexia" not in search("hay fever", "--json").json["expanded"]


def test_queries_with_syntax_are_taken_as_written(clinical):
    assert not is_plain('"high blood pressure"') and not is_plain("title:heartburn")
    assert not is_plain("heartburn OR roses") and is_plain("heartburn and roses")
    quoted = search('"high blood pressure"', "--json")
    assert "heart/hypertension" not in quoted.ids() and quoted.json["expanded"] == []
    assert search("heartburn OR roses", "--json").ids() == ["garden/roses"]


def test_a_query_without_vocabulary_terms_is_the_parsers_query(clinical):
    with open_index(KB(clinical, "option")) as ix:
        searcher = ix.searcher()
        for text in ("roses winter", "roses", "pruning-shears sun"):
            built = searcher.expander.build(searcher, text)
            assert built.added == [] and built.query == searcher.parse(text)


# ---------------------------------------------------------------- the KB's own vocabulary


def write_user_vocabulary(root: Path, content: bytes) -> Path:
    path = root / ".healthkb" / "synonyms.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_a_user_vocabulary_adds_groups_and_extends_builtin_ones(clinical):
    assert load_vocabulary().group_of("ticker trouble") is None  # not built in
    assert search("ticker trouble", "--json").ids() == []
    write_user_vocabulary(clinical, b"# our own words\nticker trouble | hypertension\nroses | rosa\n")
    result = search("ticker trouble", "--json")
    assert result.ids() == ["heart/hypertension"]
    assert "hypertension" in result.json["expanded"]
    # Joining the built-in group brings its other terms along.
    assert "high blood pressure" in result.json["expanded"]
    assert result.stderr == ""  # a good file is silent


def test_an_empty_user_vocabulary_changes_nothing(clinical):
    write_user_vocabulary(clinical, b"")
    result = search("shingles", "--json")
    assert result.ids() == ["skin/zoster"] and result.stderr == ""


def test_a_malformed_line_is_reported_with_its_number_and_the_rest_used(clinical):
    path = write_user_vocabulary(clinical, b"ticker trouble | hypertension\nthis line has no separator\n"
                                           b"petal | roses\n")
    result = search("ticker trouble", "--json")
    assert result.code == 0 and result.ids() == ["heart/hypertension"]
    assert f"{path}:2:" in result.stderr and "separated by" in result.stderr
    assert search("petal", "--json").ids() == ["garden/roses"]  # line 3 still used
    human = search("petal")
    assert human.code == 0 and human.stderr.count(f"{path}:2:") == 1


def test_a_user_vocabulary_that_is_not_utf8_is_reported_and_still_used(clinical):
    path = write_user_vocabulary(clinical, "caf\xe9 noir | roses\nticker trouble | hypertension\n".encode("cp1252"))
    result = search("ticker trouble", "--json")
    assert result.ids() == ["heart/hypertension"]
    assert str(path) in result.stderr and "UTF-8" in result.stderr


def test_vocabulary_problems_are_reported_once_per_searcher(clinical):
    write_user_vocabulary(clinical, b"no separator here\n")
    with open_index(KB(clinical, "option")) as ix:
        first = ix.search("shingles")
        second = ix.search("shingles")
    assert [n for n in first.notices if "synonyms.txt:1" in n]
    assert not [n for n in second.notices if "synonyms.txt" in n]
    assert [h.id for h in second.hits] == ["skin/zoster"]


# ---------------------------------------------------------------- bounded cost


def synonym_words(count: int) -> list[str]:
    """Distinct one-word vocabulary terms, each of which has synonyms."""
    words = [t.text.lower() for g in load_vocabulary().groups for t in g
             if " " not in t.text and t.text.isalpha() and not t.case_sensitive]
    return list(dict.fromkeys(words))[:count]


@pytest.mark.parametrize("shape", ["article words", "all with synonyms"])
def test_a_fifty_word_query_works_and_stays_bounded(clinical, shape):
    if shape == "article words":
        words = (CLINICAL["heart/hypertension.txt"].rstrip(" |\n").split() * 3)[:50]
    else:
        words = synonym_words(50)
    query = " ".join(words)
    assert len(words) == 50
    result = search(query, "--json")
    assert result.code in (0, 1)
    assert len(result.json["expanded"]) <= MAX_ADDED
    with open_index(KB(clinical, "option")) as ix:
        searcher = ix.searcher()
        searcher.search("warm up")
        found = searcher.search(query)  # its speed: scripts/bench.py (long question row)
        assert len(found.expanded) <= MAX_ADDED
    if shape == "article words":
        assert found.hits and found.hits[0].id == "heart/hypertension"


def test_a_query_all_of_whose_words_have_synonyms(clinical):
    words = ["heartburn", "shingles", "anaemia", "BP", "hypertension"]
    result = search(*words, "--json")
    assert result.code == 0
    # No article has them all; five words are read as a question (any of
    # them, each weighed by its rarity): every clinical article is found.
    assert {"gut/reflux", "skin/zoster", "blood/iron", "heart/readings", "heart/hypertension"} <= set(result.ids())
