"""Tests for healthkb.text: sanitising untrusted text, match keys, titles from
names and sentences, slugs."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthkb.text import (
    first_sentence,
    fold,
    match_key,
    normalize_newlines,
    sanitize,
    sanitize_line,
    shorten,
    slugify,
    title_from_filename,
)

BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unsafe_chars(text: str) -> set[str]:
    """Characters that must never reach a terminal (tab and newline are fine)."""
    return {
        ch
        for ch in text
        if (unicodedata.category(ch) == "Cc" and ch not in "\t\n") or ch in BIDI_CONTROLS
    }


# ---------------------------------------------------------------- newlines


@pytest.mark.parametrize(
    "raw",
    [
        "one\r\ntwo\r\nthree",
        "one\rtwo\rthree",
        "one\ntwo\r\nthree",
        "one\u2028two\u2029three",
        "one\x85two\nthree",
    ],
)
def test_every_line_end_becomes_newline(raw):
    assert normalize_newlines(raw) == "one\ntwo\nthree"


def test_crlf_is_one_line_break_not_two():
    assert normalize_newlines("a\r\n\r\nb") == "a\n\nb"


# ---------------------------------------------------------------- sanitize


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain \x1b[31mred\x1b[0m text", "plain red text"),
        ("cursor \x1b[2J\x1b[1;1Hhome", "cursor home"),
        ("8-bit \x9b31mCSI", "8-bit CSI"),
        ("osc \x1b]0;window title\x07after", "osc after"),
        ("hyperlink \x1b]8;;http://example.invalid\x1b\\text\x1b]8;;\x1b\\", "hyperlink text"),
        ("osc with 8-bit ST \x1b]2;x\x9cafter", "osc with 8-bit ST after"),
        ("dcs \x1bPq#0\x1b\\done", "dcs done"),
        ("bell\x07 backspace\x08 del\x7f", "bell backspace del"),
        ("c1 \x84\x8d\x99 gone", "c1  gone"),
        ("bidi \u202eesrever\u202c and \u2066isolate\u2069", "bidi esrever and isolate"),
        ("charset \x1b(B", "charset B"),  # ESC ( consumed; the B is inert text
    ],
)
def test_sanitize_removes_control_sequences(raw, clean):
    assert sanitize(raw) == clean


def test_sanitize_keeps_tabs_newlines_and_ordinary_unicode():
    text = "Café\tnaïve\n中文 — “quotes” 🙂 ½"
    assert sanitize(text) == text


def test_unterminated_osc_stops_at_the_line_end():
    # A stray OSC introducer must not swallow the rest of the file.
    assert sanitize("first \x1b]0;no end\nsecond line\nthird") == "first \nsecond line\nthird"
    assert sanitize("a\x9dstray\nb") == "a\nb"


@given(st.text())
def test_sanitize_leaves_nothing_unsafe_and_is_idempotent(text):
    clean = sanitize(text)
    assert not unsafe_chars(clean)
    assert sanitize(clean) == clean


@given(st.lists(st.text(alphabet=st.characters(exclude_characters="\n\r\x85\u2028\u2029")), min_size=1))
def test_sanitize_never_merges_or_drops_lines(lines):
    assert sanitize("\n".join(lines)).split("\n") == [sanitize(line) for line in lines]


def test_sanitize_line_folds_breaks_tabs_and_runs_of_spaces():
    assert sanitize_line("  Title\twith\r\nbreaks  and \x1b[1mbold\x1b[0m  ") == "Title with breaks and bold"


# ---------------------------------------------------------------- fold / match_key


@pytest.mark.parametrize(
    ("a", "b"), [("Café", "cafe"), ("Straße", "STRASSE"), ("ＦＵＬＬ", "full"), ("ﬁsh", "fish")]
)
def test_fold_makes_variants_equal(a, b):
    assert fold(a) == fold(b)


def test_match_key_ignores_case_punctuation_and_spacing():
    # The SPEC §2 example: a nav text and a file name that name the same article.
    nav = "Can walking backwards relieve lumbar disc herniation?"
    assert match_key(nav) == match_key("can-walking-backwards-relieve-lumbar-disc-herniation")
    assert match_key("Sleep_apnoea  (adults)") == match_key("sleep apnoea adults")
    assert match_key("Café au lait") == match_key("cafe-au-lait")


def test_match_key_ascii_and_unicode_paths_treat_control_sequences_alike():
    # The ASCII fast path used to keep "31m" from a colour code.
    assert match_key("\x1b[31mRed eyes") == match_key("red eyes")
    assert match_key("\x1b[31mRéd eyes") == match_key("red eyes")


def test_match_key_differs_for_different_words():
    assert match_key("hip effusion") != match_key("hip infusion")


@given(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)),
    st.integers(min_value=0, max_value=200),
)
def test_a_teaser_cut_anywhere_is_a_key_prefix_of_its_body(body, cut):
    assert match_key(body).startswith(match_key(body[:cut]))


# ---------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("stem", "title"),
    [
        ("insomnia-relief", "Insomnia relief"),
        ("sleep_apnea", "Sleep apnea"),
        ("what.causes.bloating", "What causes bloating"),
        ("covid-2020-notes", "Covid 2020 notes"),
        ("café-au-lait", "Café au lait"),
        ("Hip-Effusion", "Hip Effusion"),
    ],
)
def test_title_from_a_file_name_that_reads_as_words(stem, title):
    assert title_from_filename(stem) == title


@pytest.mark.parametrize(
    "stem",
    ["000_ec7fe29246c6fc0e", "ec7fe29246c6fc0e", "12345", "2024", "", "---", "a1b2c3", "notes-123456"],
)
def test_hash_like_or_numeric_names_give_no_title(stem):
    assert title_from_filename(stem) is None


def test_shorten_keeps_short_text_and_cuts_long_text_at_a_word():
    assert shorten("short  text", 20) == "short text"
    cut = shorten("the quick brown fox jumps over the lazy dog", 20)
    assert len(cut) <= 20
    assert cut.endswith("…")
    assert "the quick brown fox jumps over the lazy dog".startswith(cut[:-1])
    assert not cut[:-1].endswith(" ")


@given(st.text(), st.integers(min_value=2, max_value=120))
def test_shorten_never_exceeds_the_width(text, width):
    assert len(shorten(text, width)) <= width


def test_first_sentence_stops_at_the_first_sentence_end():
    text = "Walking backwards can help. It shifts the centre of gravity."
    assert first_sentence(text) == "Walking backwards can help."
    assert first_sentence("Is it safe? Yes.") == "Is it safe?"
    assert first_sentence("Take 2.5 mg daily. Then rest.") == "Take 2.5 mg daily."


def test_first_sentence_is_shortened_when_long():
    text = "word " * 60
    result = first_sentence(text, 40)
    assert len(result) <= 40 and result.endswith("…")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Can I drink red wine while eating hairy crabs?", "can-i-drink-red-wine-while-eating-hairy-crabs"),
        ("Café & crème brûlée", "cafe-creme-brulee"),
        ("\x1b[31mRed\x1b[0m alert", "red-alert"),
        ("???", "article"),
    ],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_a_slug_reads_back_as_its_title():
    title = "Do you have to lie flat if you have hip effusion?"
    assert match_key(title_from_filename(slugify(title))) == match_key(title)


@given(st.text(alphabet=st.sampled_from("ab .!?\n\t\u3000\u00a0x。！\x85\u2028"), max_size=40), st.integers(1, 30))
def test_first_sentence_does_not_depend_on_how_the_spaces_run(text, width):
    # The sentence end is found in the raw text and only that sentence's
    # spaces are folded: the same answer as folding the whole text first.
    assert first_sentence(text, width) == first_sentence(" ".join(text.split()), width)
