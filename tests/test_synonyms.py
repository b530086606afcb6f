"""Tests for healthkb.synonyms: the shipped vocabulary, user files, expansion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthkb.synonyms import (
    MAX_ALTERNATIVES_PER_SPAN,
    MAX_ALTERNATIVES_TOTAL,
    MAX_GROUP_TERMS,
    Expansion,
    VocabularyProblem,
    fold,
    load_vocabulary,
    user_vocabulary_paths,
)

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "healthkb" / "data" / "synonyms.txt"


def phrase_key(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(text).replace("'", "")))


def finds(expansion: Expansion, phrase: str) -> bool:
    """Whether a phrase search for one of the added terms would hit ``phrase``."""
    target = f" {phrase_key(phrase)} "
    return any(f" {alt.key} " in target for span in expansion.spans for alt in span.alternatives)


def expand(text: str, vocabulary=None, **options) -> Expansion:
    return (vocabulary or load_vocabulary()).expand(text.split(), **options)


def write(tmp_path: Path, content: str | bytes, name: str = "synonyms.txt") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- the shipped vocabulary -------------------------------------------------------


def test_shipped_vocabulary_loads_at_least_330_groups_without_problems():
    vocabulary = load_vocabulary()
    assert vocabulary.problems == []
    assert len(vocabulary) >= 330
    assert len(vocabulary.groups) == len(vocabulary)


def test_every_shipped_line_is_its_own_group():
    # A term on two lines would silently merge two groups; in the shipped
    # file that is always a mistake.
    lines = [
        line for line in SHIPPED.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    vocabulary = load_vocabulary()
    assert len(vocabulary) == len(lines)
    assert sum(len(group) for group in vocabulary.groups) == sum(line.count("|") + 1 for line in lines)


def test_every_shipped_term_finds_its_own_group():
    # The fast loading path (bulk folding) and the careful parser must agree.
    vocabulary = load_vocabulary()
    for group in vocabulary.groups:
        for term in group:
            found = vocabulary.group_of(term.text)
            assert found is not None, term.text
            assert [t.text for t in found] == [t.text for t in group]


def test_shipped_file_stays_reviewable():
    text = SHIPPED.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            assert line.isascii(), f"line {number}: write terms without accents"
            assert "#" not in line, f"line {number}: comments go on their own line"


def test_loading_is_cached():
    assert load_vocabulary() is load_vocabulary()


# --- the examples -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "article_says"),
    [
        ("high blood pressure", "hypertension"),
        ("heartburn", "gastro-oesophageal reflux"),
        ("heartburn", "GERD"),
        ("shingles", "herpes zoster"),
        ("anemia", "anaemia"),
        ("anaemia", "anemia"),
        ("BP", "blood pressure"),
        ("bp", "blood pressure"),
        ("slipped disc", "herniated disc"),
        ("slipped disc", "disc herniation"),
        ("heart attack", "myocardial infarction"),
        ("hay fever", "allergic rhinitis"),
        ("oesophagus", "esophagus"),
        ("diarrhea", "diarrhoea"),
        ("oestrogen", "estrogen"),
        ("pediatric", "paediatric"),
        ("hemorrhoids", "piles"),
        ("tumor", "tumour"),
        ("TIA", "transient ischaemic attack"),
        ("uti", "urinary tract infection"),
        ("GORD", "gastroesophageal reflux disease"),
        ("IBS", "irritable bowel syndrome"),
        ("copd", "chronic obstructive pulmonary disease"),
    ],
)
def test_lay_clinical_spelling_and_abbreviation_examples(query, article_says):
    assert finds(expand(query), article_says)


def test_span_reports_the_users_words_and_the_added_phrases():
    expansion = expand("high blood pressure diet")
    assert expansion.words == ("high", "blood", "pressure", "diet")
    [span] = expansion.spans
    assert (span.start, span.end, span.words) == (0, 3, ("high", "blood", "pressure"))
    assert span.matched.text == "high blood pressure"
    assert "hypertension" in expansion.added
    assert all(alt.words == tuple(alt.text.split()) for alt in span.alternatives)


def test_longest_match_wins_over_a_shorter_group_inside_it():
    # "blood pressure" is a group of its own (BP), but the whole phrase wins.
    [span] = expand("high blood pressure").spans
    assert (span.start, span.end) == (0, 3)
    assert "BP" not in expand("high blood pressure").added


def test_multi_word_alternatives_come_as_word_lists():
    expansion = expand("heartburn")
    reflux = next(alt for alt in expansion.spans[0].alternatives if alt.text == "gastro-oesophageal reflux")
    assert reflux.words == ("gastro-oesophageal", "reflux")
    assert reflux.key == "gastro oesophageal reflux"


def test_users_own_terms_are_never_added_back():
    expansion = expand("hypertension and high blood pressure")
    keys = {phrase_key(text) for text in expansion.added}
    assert "hypertension" not in keys and "high blood pressure" not in keys
    assert "raised blood pressure" in keys


def test_phrases_containing_a_searched_phrase_are_not_added():
    added = expand("heart attack").added
    assert "myocardial infarction" in added
    assert "acute myocardial infarction" not in added  # the shorter phrase finds it


def test_a_dropped_longer_phrase_hands_its_place_to_the_shorter_one(tmp_path):
    # "pq1 extra" is dropped because "pq1" finds it; with room for only two
    # alternatives, "pq1" must take the first place, or "pq1 extra" is lost.
    vocabulary = load_vocabulary([write(tmp_path, "pq0 | pq1 extra | pq2 | pq3 | pq1\n")])
    expansion = expand("pq0", vocabulary, max_per_span=2)
    assert expansion.added == ["pq1", "pq2"]
    assert finds(expansion, "pq1 extra")


def test_words_without_synonyms_add_nothing():
    expansion = expand("the quick brown fox")
    assert expansion.spans == () and expansion.added == [] and not expansion.truncated


def test_punctuation_and_empty_words_are_harmless():
    assert expand("").spans == ()
    assert load_vocabulary().expand([]).spans == ()
    expansion = load_vocabulary().expand(["-", "heart", "attack", "!!"])
    assert [(s.start, s.end) for s in expansion.spans] == [(1, 3)]


# --- case, accents, plurals ---------------------------------------------------------


def test_case_sensitive_abbreviation_matches_only_as_typed():
    assert finds(expand("MI"), "myocardial infarction")
    assert expand("mi").spans == ()
    assert expand("Mi").spans == ()
    assert expand("mild pain").spans == ()  # whole tokens only


def test_case_sensitive_terms_are_not_added_unless_asked():
    assert "MI" not in expand("heart attack").added
    assert "MI" in expand("heart attack", include_case_sensitive=True).added
    assert "AIDS" not in expand("acquired immunodeficiency syndrome").added


def test_an_alternative_that_folds_to_the_typed_term_is_not_added():
    # "PoTS" and "POTS" are different case-sensitive terms, but the index
    # folds case: searching "PoTS" again after "POTS" would add nothing.
    added = expand("POTS", include_case_sensitive=True).added
    assert "postural tachycardia syndrome" in added and "PoTS" not in added


def test_everyday_word_twin_of_an_abbreviation_does_not_expand():
    assert expand("hearing aids").spans == ()
    assert finds(expand("AIDS"), "acquired immunodeficiency syndrome")


def test_accents_and_case_are_folded_in_queries():
    assert finds(expand("Ménière's disease"), "idiopathic endolymphatic hydrops")
    assert finds(expand("CAFÉ-AU-LAIT spots"), "cafe au lait macule")
    assert finds(expand("Crohn’s"), "regional enteritis")  # typographic apostrophe


def test_a_trailing_plural_finds_the_singular_term():
    assert finds(expand("kidney stones"), "nephrolithiasis")
    assert finds(expand("tumours"), "tumor")
    assert finds(expand("allergies"), "allergy") is False  # no such group: nothing invented


def test_fold():
    assert fold("Ménière") == "meniere"
    assert fold("ŒSOPHAGUS") == "oesophagus"
    assert fold("Straße") == "strasse"
    assert fold("ﬁbre") == "fibre"  # compatibility ligature (NFKC)
    assert fold("HbA1c") == "hba1c"


# --- user files -------------------------------------------------------------------------


def test_missing_and_empty_user_files_add_nothing(tmp_path):
    builtin = len(load_vocabulary())
    empty = write(tmp_path, "")
    only_comments = write(tmp_path, "# nothing yet\n\n   \n", "comments.txt")
    vocabulary = load_vocabulary([tmp_path / "absent.txt", empty, only_comments])
    assert vocabulary.problems == []
    assert len(vocabulary) == builtin


def test_user_file_adds_groups_and_extends_builtin_ones(tmp_path):
    path = write(tmp_path, "hbp reading | blood pressure reading\nzzfoo | zzbar baz\n")
    vocabulary = load_vocabulary([path])
    assert vocabulary.problems == []
    assert finds(expand("zzfoo", vocabulary), "zzbar baz")
    assert finds(expand("blood pressure reading", vocabulary), "hbp reading")


def test_a_term_in_two_groups_merges_them(tmp_path):
    # "hbp" is new; "high blood pressure" is built in: hbp joins the group.
    path = write(tmp_path, "hbp2 | high blood pressure\n")
    vocabulary = load_vocabulary([path])
    assert vocabulary.problems == []
    assert finds(expand("hbp2", vocabulary), "hypertension")
    assert finds(expand("hypertension", vocabulary), "hbp2")
    assert len(vocabulary) == len(load_vocabulary())  # merged, not a new group


def test_user_file_does_not_change_the_shared_builtin_vocabulary(tmp_path):
    load_vocabulary([write(tmp_path, "hbp3 | hypertension\n")])
    assert not finds(expand("hypertension"), "hbp3")
    assert expand("hbp3").spans == ()


def test_lines_sharing_terms_form_one_group_even_in_a_cycle(tmp_path):
    path = write(tmp_path, "qqa | qqb\nqqb | qqc\nqqc | qqa\n")
    vocabulary = load_vocabulary([path])
    assert vocabulary.problems == []
    group = vocabulary.group_of("qqa")
    assert sorted(t.text for t in group) == ["qqa", "qqb", "qqc"]
    assert sorted(expand("qqa", vocabulary).added) == ["qqb", "qqc"]


def test_two_builtin_groups_joined_by_a_user_line_become_one(tmp_path):
    vocabulary = load_vocabulary([write(tmp_path, "shingles | chickenpox\n")])
    assert len(vocabulary) == len(load_vocabulary()) - 1
    assert finds(expand("varicella", vocabulary), "herpes zoster")


def test_a_huge_line_is_rejected_and_reported(tmp_path):
    terms = " | ".join(f"hugeterm{n}" for n in range(MAX_GROUP_TERMS + 1))
    path = write(tmp_path, f"ok1 | ok2\n{terms}\n")
    vocabulary = load_vocabulary([path])
    assert [(p.line_no, "at most" in p.message) for p in vocabulary.problems] == [(2, True)]
    assert expand("hugeterm1", vocabulary).spans == ()
    assert finds(expand("ok1", vocabulary), "ok2")


def test_a_chain_of_lines_cannot_grow_a_group_past_the_cap(tmp_path):
    lines = [f"chain{n} | chain{n + 1}" for n in range(MAX_GROUP_TERMS + 5)]
    vocabulary = load_vocabulary([write(tmp_path, "\n".join(lines))])
    assert len(vocabulary.group_of("chain0")) == MAX_GROUP_TERMS
    assert [p.line_no for p in vocabulary.problems][0] == MAX_GROUP_TERMS
    assert all("at most" in p.message for p in vocabulary.problems)


def test_malformed_lines_are_reported_with_line_numbers_and_the_rest_used(tmp_path):
    content = "\n".join(
        [
            "# my words",  # 1
            "good1 | good2",  # 2
            "just one term",  # 3: no separator
            "lonely |",  # 4: empty term, then too few terms
            "dup1 | dup1 | dup2",  # 5: duplicate ignored, line used
            "=  | ---",  # 6: nothing usable
            "w1 w2 w3 w4 w5 w6 w7 w8 w9 | short9",  # 7: too long, then too few
            "tight1|tight2",  # 8: fine without spaces
            "good3 | good4  # trailing comment",  # 9
        ]
    )
    vocabulary = load_vocabulary([write(tmp_path, content)])
    by_line: dict[int, list[str]] = {}
    for problem in vocabulary.problems:
        by_line.setdefault(problem.line_no, []).append(problem.message)
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    assert "separated by" in by_line[3][0]
    assert by_line[4][0] == "empty term" and "at least two" in by_line[4][1]
    assert by_line[5] == ["duplicate term 'dup1' ignored"]
    assert "more than 8 words" in by_line[7][0]
    for query, other in [("good1", "good2"), ("dup1", "dup2"), ("tight1", "tight2"), ("good4", "good3")]:
        assert finds(expand(query, vocabulary), other), query
    assert expand("lonely", vocabulary).spans == ()


def test_problem_reads_as_path_line_message(tmp_path):
    path = write(tmp_path, "nothing to separate\n")
    [problem] = load_vocabulary([path]).problems
    assert problem == VocabularyProblem(str(path), 1, "expected terms separated by ' | '")
    assert str(problem) == f"{path}:1: expected terms separated by ' | '"


def test_non_ascii_terms_in_a_user_file(tmp_path):
    content = "Zöliakie | coeliac disease\n糖尿病 | diabetes mellitus\nΓρίπη | influenza\n"
    path = write(tmp_path, content)
    vocabulary = load_vocabulary([path])
    assert vocabulary.problems == []
    assert finds(expand("ZOLIAKIE", vocabulary), "celiac disease")
    assert finds(expand("zöliakie", vocabulary), "coeliac disease")
    assert finds(expand("糖尿病", vocabulary), "diabetes mellitus")
    assert finds(expand("γρίπη", vocabulary), "flu")
    assert "Zöliakie" in expand("celiac disease", vocabulary).added


def test_user_file_that_is_not_utf8_is_read_as_cp1252_and_reported(tmp_path):
    path = write(tmp_path, "first | line\nZöliakie | coeliac disease\n".encode("cp1252"))
    vocabulary = load_vocabulary([path])
    [problem] = vocabulary.problems
    assert problem.line_no == 2 and "Windows-1252" in problem.message
    assert finds(expand("Zöliakie", vocabulary), "celiac disease")
    assert finds(expand("first", vocabulary), "line")


def test_binary_and_unreadable_user_files_are_skipped_and_reported(tmp_path):
    binary = write(tmp_path, b"abc | def\x00\x01\x02", "synonyms.bin")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    vocabulary = load_vocabulary([binary, folder])
    assert [(p.path, p.line_no) for p in vocabulary.problems] == [(str(binary), None), (str(folder), None)]
    assert "not a text file" in vocabulary.problems[0].message
    assert expand("abc", vocabulary).spans == ()


def test_bom_and_windows_line_endings(tmp_path):
    path = write(tmp_path, "\ufeffbomterm | other term\r\nsecond | line two\r\n")
    vocabulary = load_vocabulary([path])
    assert vocabulary.problems == []
    assert finds(expand("bomterm", vocabulary), "other term")
    assert expand("other term", vocabulary).added == ["bomterm"]  # no BOM in the text
    assert finds(expand("second", vocabulary), "line two")


def test_case_mark_in_a_user_file(tmp_path):
    path = write(tmp_path, "=ZQX | zebra quux\n")
    vocabulary = load_vocabulary([path])
    assert finds(expand("ZQX", vocabulary), "zebra quux")
    assert expand("zqx", vocabulary).spans == ()
    assert expand("zebra quux", vocabulary).spans == ()  # nothing addable


def test_case_marked_term_already_built_in_merges_groups(tmp_path):
    vocabulary = load_vocabulary([write(tmp_path, "=MI | coronary thrombosis\n")])
    assert vocabulary.problems == []
    assert finds(expand("MI", vocabulary), "myocardial infarction")
    assert finds(expand("MI", vocabulary), "coronary thrombosis")
    assert finds(expand("coronary thrombosis", vocabulary), "heart attack")


def test_odd_separators_and_repeated_case_marked_terms(tmp_path):
    content = "ab1 | ab2|ab3\n=ZQY | =ZQY | quasi term\n=ZQW | =zqw | wide term\n"
    vocabulary = load_vocabulary([write(tmp_path, content)])
    assert [(p.line_no, p.message) for p in vocabulary.problems] == [(2, "duplicate term '=ZQY' ignored")]
    assert finds(expand("ab1", vocabulary), "ab3")
    assert finds(expand("ab3", vocabulary), "ab1")
    assert finds(expand("ZQY", vocabulary), "quasi term")
    # Case-sensitive terms differing in case are different terms.
    assert finds(expand("zqw", vocabulary), "wide term")
    assert finds(expand("ZQW", vocabulary), "wide term")
    assert expand("Zqw", vocabulary).spans == ()


def test_new_non_ascii_line_folds_like_a_query(tmp_path):
    vocabulary = load_vocabulary([write(tmp_path, "ÄRZTIN | zzdoctor woman\n")])
    assert finds(expand("arztin", vocabulary), "zzdoctor woman")
    assert finds(expand("Ärztin", vocabulary), "zzdoctor woman")


def test_user_vocabulary_paths(tmp_path):
    assert user_vocabulary_paths(tmp_path) == []
    path = write(tmp_path, "a1 | b1\n")
    assert user_vocabulary_paths(tmp_path) == [str(path)]


# --- bounds -----------------------------------------------------------------------------


def single_word_terms() -> list[str]:
    return [
        group[0].text
        for group in load_vocabulary().groups
        if " " not in group[0].text and "-" not in group[0].text and not group[0].case_sensitive
    ]


def test_fifty_word_query_whose_words_all_have_synonyms_is_bounded():
    words = single_word_terms()[:50]
    assert len(words) == 50
    expansion = load_vocabulary().expand(words)
    assert len(expansion.spans) >= 10
    assert expansion.truncated
    assert len(expansion.added) == MAX_ALTERNATIVES_TOTAL
    assert all(len(span.alternatives) <= MAX_ALTERNATIVES_PER_SPAN for span in expansion.spans)
    assert expansion.words == tuple(words)


def test_bounds_can_be_tightened():
    expansion = expand("slipped disc and heartburn", max_per_span=2, max_total=3)
    assert [len(span.alternatives) for span in expansion.spans] == [2, 1]
    assert expansion.truncated


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(single_word_terms() + ["and", "the", "MI", "-", "stones"]), max_size=60))
def test_any_query_keeps_its_words_and_stays_bounded(words):
    expansion = load_vocabulary().expand(words)
    assert expansion.words == tuple(words)
    assert len(expansion.added) <= MAX_ALTERNATIVES_TOTAL
    previous_end = 0
    for span in expansion.spans:
        assert previous_end <= span.start < span.end <= len(words)
        assert span.words == tuple(words[span.start : span.end])
        assert 1 <= len(span.alternatives) <= MAX_ALTERNATIVES_PER_SPAN
        previous_end = span.end
    keys = [alt.key for span in expansion.spans for alt in span.alternatives]
    assert len(keys) == len(set(keys))
