"""Tests for healthkb.article: every rule of SPEC §1, the seed article end to
end, and property tests (never raises, keeps the body, footer round trip)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from healthkb.article import (
    TITLE_FROM_BODY,
    TITLE_FROM_FILENAME,
    TITLE_FROM_HEADING,
    Article,
    article_body,
    parse_article,
    render_article,
    render_footer,
)
from healthkb.files import decode_bytes
from healthkb.text import strip_controls

BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def parse(text: str, article_id: str = "some-article") -> Article:
    return parse_article(text, article_id)


def unsafe_chars(text: str) -> set[str]:
    return {
        ch
        for ch in text
        if (unicodedata.category(ch) == "Cc" and ch not in "\t\n") or ch in BIDI_CONTROLS
    }


def assert_display_safe(article: Article) -> None:
    for value in (article.title, article.body, article.prev or "", article.next or "", *article.teasers):
        assert not unsafe_chars(value), repr(value)


BODY = "Rest helps the back heal.\nWalk a little every day. |"
PREV = "<<: Can I drink red wine while eating hairy crabs?"
NEXT = ">>: Do you have to lie flat if you have hip effusion?"
TEASER_A = "Nasopharyngeal carcinoma is a malignant tumor tha..."
TEASER_B = "Hair loss is something that almost everyone will ..."


# ---------------------------------------------------------------- footer parts


def test_full_footer():
    article = parse("\n".join([BODY, PREV, NEXT, TEASER_A, TEASER_B]))
    assert article.body == "Rest helps the back heal.\nWalk a little every day."
    assert article.prev == "Can I drink red wine while eating hairy crabs?"
    assert article.next == "Do you have to lie flat if you have hip effusion?"
    assert article.teasers == (
        "Nasopharyngeal carcinoma is a malignant tumor tha",
        "Hair loss is something that almost everyone will ",
    )


def test_only_prev():
    article = parse("\n".join([BODY, PREV]))
    assert article.prev == "Can I drink red wine while eating hairy crabs?"
    assert (article.next, article.teasers) == (None, ())
    assert article.body.endswith("every day.")


def test_only_next_then_teasers():
    article = parse("\n".join([BODY, NEXT, TEASER_A]))
    assert article.prev is None
    assert article.next == "Do you have to lie flat if you have hip effusion?"
    assert article.teasers == ("Nasopharyngeal carcinoma is a malignant tumor tha",)


def test_only_nav_lines_no_teasers():
    article = parse("\n".join([BODY, PREV, NEXT]))
    assert article.prev and article.next and article.teasers == ()
    assert article.body == "Rest helps the back heal.\nWalk a little every day."


def test_only_teasers_after_the_body_end_mark():
    article = parse("\n".join([BODY, TEASER_A, TEASER_B]))
    assert (article.prev, article.next) == (None, None)
    assert len(article.teasers) == 2
    assert article.body.endswith("every day.")


def test_only_teasers_without_a_body_end_mark():
    article = parse("Rest helps the back heal.\n" + TEASER_A)
    assert article.body == "Rest helps the back heal."
    assert article.teasers == ("Nasopharyngeal carcinoma is a malignant tumor tha",)


def test_no_footer_at_all():
    text = "Rest helps the back heal.\nWalk a little every day."
    article = parse(text)
    assert article.body == text
    assert (article.prev, article.next, article.teasers) == (None, None, ())


def test_nav_lines_without_a_body_end_mark():
    article = parse("Rest helps.\n" + PREV + "\n" + NEXT)
    assert article.body == "Rest helps."
    assert article.prev and article.next


def test_a_file_that_is_only_a_footer():
    article = parse("\n".join([PREV, NEXT, TEASER_A]))
    assert article.body == ""
    assert article.prev and article.next and len(article.teasers) == 1
    assert article.title  # something to show, even with no body


def test_blank_lines_between_body_and_footer_are_ignored():
    article = parse(BODY + "\n\n" + PREV + "\n\n" + NEXT + "\n" + TEASER_A + "\n\n")
    assert article.body.endswith("every day.")
    assert article.prev and article.next and len(article.teasers) == 1


@pytest.mark.parametrize("text", ["", "\n\n", "   ", "|", " |", "\ufeff"])
def test_empty_and_near_empty_text(text):
    article = parse(text)
    assert article.body == ""
    assert article.teasers == () and article.prev is None and article.next is None


# ---------------------------------------------------------------- the " |" mark


def test_body_end_mark_is_dropped():
    assert parse("The end of the body. |").body == "The end of the body."


def test_a_pipe_elsewhere_is_kept():
    text = "Ratio 1 | 2 in a table.\nAn earlier line that ends with a pipe |\n| leading pipe\nLast line. |"
    article = parse(text + "\n" + PREV)
    assert article.body == (
        "Ratio 1 | 2 in a table.\nAn earlier line that ends with a pipe |\n| leading pipe\nLast line."
    )


def test_a_pipe_without_a_space_is_not_the_end_mark():
    assert parse("Either/or|").body == "Either/or|"


# ---------------------------------------------------------------- only the last block counts


def test_a_nav_line_inside_the_body_is_body():
    text = "First paragraph.\n<<: this is quoted in the body\n>>: and so is this\nMore body text. |\n" + PREV
    article = parse(text)
    assert article.body == (
        "First paragraph.\n<<: this is quoted in the body\n>>: and so is this\nMore body text."
    )
    assert article.prev == "Can I drink red wine while eating hairy crabs?"
    assert article.next is None


def test_only_the_last_footer_block_counts():
    early_footer = "\n".join(
        ["Old text. |", "<<: An old previous", ">>: An old next", "An old teaser that trails..."]
    )
    article = parse(early_footer + "\nNew body text. |\n" + NEXT + "\n" + TEASER_A)
    assert article.body == (
        "Old text. |\n<<: An old previous\n>>: An old next\nAn old teaser that trails...\nNew body text."
    )
    assert article.prev is None
    assert article.next == "Do you have to lie flat if you have hip effusion?"
    assert article.teasers == ("Nasopharyngeal carcinoma is a malignant tumor tha",)


def test_nav_lines_in_the_wrong_order_stay_body():
    # The footer order is <<: then >>:; a >>: above the <<: is not footer.
    article = parse("Body. |\n>>: Next first\n<<: Prev second")
    assert article.prev == "Prev second"
    assert article.next is None
    assert ">>: Next first" in article.body


# ---------------------------------------------------------------- teasers


def test_teaser_keeps_its_trailing_space():
    assert parse(BODY + "\n" + TEASER_B).teasers == ("Hair loss is something that almost everyone will ",)


def test_teaser_with_a_unicode_ellipsis():
    article = parse(BODY + "\nColds and fevers are conditions we often encounte…")
    assert article.teasers == ("Colds and fevers are conditions we often encounte",)


def test_teaser_whose_quote_ends_in_a_full_stop():
    # 49 characters that end with the sentence's own full stop, then "...".
    article = parse(BODY + "\nFor many people, winter is a very awkward season....")
    assert article.teasers == ("For many people, winter is a very awkward season.",)


def test_a_bare_ellipsis_is_not_a_teaser():
    article = parse("Body.\n...")
    assert article.teasers == ()
    assert article.body == "Body.\n..."


def test_long_trailing_off_prose_is_body_when_no_footer_marks_it():
    line = "And so the story of the patient's long recovery trails off into the night..."
    article = parse("First line.\n" + line)
    assert article.teasers == ()
    assert article.body.endswith(line)


def test_without_a_footer_mark_only_the_short_lines_after_the_last_long_one_are_teasers():
    long_line = "This line of prose is far longer than any scraped teaser could be..."
    short = "Gallbladder cancer has no specific and typical sy..."
    article = parse("Prose.\n" + long_line + "\n" + short)
    assert article.body == "Prose.\n" + long_line
    assert article.teasers == (short[:-3],)


def test_long_teasers_count_after_a_footer_mark():
    line = "A teaser line that is much longer than forty nine characters in all..."
    article = parse(BODY + "\n" + line)
    assert article.teasers == (line[:-3],)


# ---------------------------------------------------------------- titles


def test_title_from_a_heading_line():
    article = parse("# Sitting posture and back pain\nSit up straight. |", "3f9a0c1d2e")
    assert (article.title, article.title_source) == ("Sitting posture and back pain", TITLE_FROM_HEADING)
    assert article.body == "Sit up straight."


def test_a_heading_with_nothing_else():
    article = parse("# Only a title\n", "ec7fe29246c6fc0e")
    assert (article.title, article.body, article.teasers) == ("Only a title", "", ())


def test_heading_wins_over_a_wordy_file_name():
    article = parse("# The real title\nBody.", "insomnia-relief")
    assert article.title == "The real title"


def test_title_from_a_file_name_that_reads_as_words():
    article = parse("Some body text. |", "sleep/insomnia-relief")
    assert (article.title, article.title_source) == ("Insomnia relief", TITLE_FROM_FILENAME)


def test_hash_file_name_falls_back_to_the_first_sentence():
    article = parse("Gout attacks often start at night. They hurt. |", "000_ec7fe29246c6fc0e")
    assert (article.title, article.title_source) == ("Gout attacks often start at night.", TITLE_FROM_BODY)


def test_a_long_first_sentence_is_shortened_for_the_title():
    sentence = "Gout " + "attacks often start at night and " * 10 + "hurt."
    article = parse(sentence + " More. |", "ec7fe29246c6fc0e")
    assert article.title_source == TITLE_FROM_BODY
    assert len(article.title) < len(sentence)
    assert article.title.endswith("…")
    assert sentence.startswith(article.title[:-1].rstrip())


def test_a_hash_named_article_with_no_body_still_has_a_title():
    assert parse("<<: Previous\n>>: Next", "ec7fe29246c6fc0e").title


# ---------------------------------------------------------------- encodings and line ends


def test_bom_is_ignored():
    plain = parse("# Title\nBody. |\n" + PREV)
    with_bom = parse("\ufeff# Title\nBody. |\n" + PREV)
    assert with_bom == plain
    assert with_bom.title_source == TITLE_FROM_HEADING


@pytest.mark.parametrize("line_end", ["\r\n", "\r"])
def test_crlf_and_cr_parse_like_lf(line_end):
    lines = ["First line.", "Second line. |", PREV, NEXT, TEASER_A, TEASER_B]
    assert parse(line_end.join(lines)) == parse("\n".join(lines))
    assert "\r" not in parse(line_end.join(lines)).body


def test_bom_and_crlf_together_from_bytes():
    raw = ("\ufeff" + "\r\n".join(["Body line. |", PREV, TEASER_B])).encode("utf-8")
    decoded = decode_bytes(raw)
    article = parse_article(decoded.text, "x", encoding=decoded.encoding, warnings=decoded.warnings)
    assert article.body == "Body line."
    assert article.teasers == ("Hair loss is something that almost everyone will ",)
    assert (article.encoding, article.warnings) == ("utf-8", ())


def test_cp1252_fallback_is_carried_with_a_warning():
    raw = "Caf\u00e9 \u201cculture\u201d is fine. |\r\n<<: Na\u00efve question".encode("cp1252")
    decoded = decode_bytes(raw)
    article = parse_article(decoded.text, "x", encoding=decoded.encoding, warnings=decoded.warnings)
    assert article.body == "Café “culture” is fine."
    assert article.prev == "Naïve question"
    assert article.encoding == "cp1252"
    assert any("cp1252" in warning for warning in article.warnings)


# ---------------------------------------------------------------- control sequences

CONTROL_SEQUENCES = [
    "\x1b[31m",
    "\x1b[2J\x1b[H",
    "\x9b1m",
    "\x1b]0;pwned\x07",
    "\x1b]8;;http://example.invalid\x1b\\",
    "\x90q\x9c",
    "\x07\x08\x7f",
    "\x84\x8d",
    "\u202e",
    "\u2066",
]


@pytest.mark.parametrize("seq", CONTROL_SEQUENCES)
def test_control_sequences_are_stripped_everywhere(seq):
    text = "\n".join(
        [
            f"# {seq}Heading{seq} text",
            f"Body {seq}line{seq} one.",
            f"Body line two.{seq} |",
            f"<<: {seq}Prev{seq} title",
            f">>: Next{seq} title",
            f"Teaser {seq}text{seq} here...",
        ]
    )
    article = parse(text)
    assert_display_safe(article)
    assert article.title == "Heading text"
    assert article.body == "Body line one.\nBody line two."
    assert (article.prev, article.next) == ("Prev title", "Next title")
    assert article.teasers == ("Teaser text here",)


@pytest.mark.parametrize("seq", CONTROL_SEQUENCES)
def test_control_sequences_in_front_of_marks_do_not_hide_the_footer(seq):
    article = parse(f"{seq}# Title\nBody. |{seq}\n{seq}<<: Prev\n{seq}>>: Next")
    assert article.title == "Title"
    assert article.body == "Body."
    assert (article.prev, article.next) == ("Prev", "Next")


@pytest.mark.parametrize("seq", CONTROL_SEQUENCES)
def test_control_sequences_are_stripped_from_titles_from_names_and_sentences(seq):
    name = seq.replace("/", "")  # a file name cannot hold a "/"
    from_name = parse("Body.", f"sleep/{name}insomnia-relief")
    assert from_name.title == "Insomnia relief"
    from_body = parse(f"{seq}Gout {seq}hurts. More.", "ec7fe29246c6fc0e")
    assert from_body.title == "Gout hurts."


def test_an_unterminated_osc_does_not_swallow_the_footer():
    article = parse("Body \x1b]0;no terminator\nSecond line. |\n<<: Prev")
    assert article.body == "Body \nSecond line."
    assert article.prev == "Prev"


# ---------------------------------------------------------------- the seed article


def test_bundled_seed_copy_is_byte_identical_to_the_shared_seed(seed_path):
    bundled = Path(__file__).parent / "data" / "000_ec7fe29246c6fc0e.txt"
    assert bundled.is_file()
    assert seed_path.read_bytes() == bundled.read_bytes()


def test_seed_article_end_to_end(seed_text):
    article = parse_article(seed_text, "000_ec7fe29246c6fc0e")
    assert article.body.endswith("to relieve fatigue.")
    assert not article.body.endswith("|")
    assert " |" not in article.body[-5:]
    assert article.body.startswith("People still pay more attention to the lumbar spine")
    assert article.prev == "Can I drink red wine while eating hairy crabs?"
    assert article.next == "Do you have to lie flat if you have hip effusion?"
    # The issue text says 17 teasers; the file has 2 nav lines + 15 teasers.
    raw_lines = seed_text.splitlines()
    expected = tuple(line[:-3] for line in raw_lines[-15:])
    assert all(line.endswith("...") for line in raw_lines[-15:])
    assert raw_lines[-16].startswith(">>: ") and raw_lines[-17].startswith("<<: ")
    assert article.teasers == expected
    assert len(article.teasers) == 15
    assert article.teasers[0] == "Nasopharyngeal carcinoma is a malignant tumor tha"
    assert article.teasers[7] == "Hair loss is something that almost everyone will "
    assert article.teasers[-1] == "In daily life, many people have the habit of taki"
    assert all(len(teaser) == 49 for teaser in article.teasers)
    assert article.title_source == TITLE_FROM_BODY
    assert article.title.startswith("People still pay more attention")
    assert article.encoding == "utf-8" and article.warnings == ()


def test_seed_body_is_every_line_before_the_footer(seed_text):
    article = parse_article(seed_text, "000_ec7fe29246c6fc0e")
    body_lines = seed_text.splitlines()[:-17]
    assert body_lines[-1].endswith(" |")
    assert article.body == "\n".join(body_lines)[:-2]


def test_seed_with_crlf_and_bom_parses_the_same(seed_text):
    plain = parse_article(seed_text, "000_ec7fe29246c6fc0e")
    assert parse_article("\ufeff" + seed_text.replace("\n", "\r\n"), "000_ec7fe29246c6fc0e") == plain


def test_word_count():
    assert parse("One two  three\nfour. |\n" + PREV).words == 4


# ---------------------------------------------------------------- properties

LINE_BREAKS = {"\n", "\r\n", "\r", "\x85", "\u2028"}
FRAGMENTS = st.sampled_from(
    ["<<: ", ">>: ", "<<:", ">>:", "...", "…", " |", "|", "# ", "\n", "\r\n", "\r", "\x1b[", "\x1b]", "\x07",
     "\x9b", "\ufeff", "\t", " ", "\u202e", "\x85", "\u2028"]
)
ARBITRARY_TEXT = st.lists(st.one_of(st.text(), FRAGMENTS), max_size=30).map("".join)


@given(ARBITRARY_TEXT, st.one_of(st.text(), st.sampled_from(["", "/", "a/", "x.y/000_abc"])))
def test_parse_never_raises_and_returns_safe_text(text, article_id):
    article = parse_article(text, article_id)
    assert_display_safe(article)
    assert isinstance(article.title, str) and article.title
    assert "\n" not in article.title and "\n" not in (article.prev or "") and "\n" not in (article.next or "")
    assert all("\n" not in teaser for teaser in article.teasers)


@given(ARBITRARY_TEXT)
def test_the_body_alone_is_the_parsed_body(text):
    # Snippets read a hit's body through article_body (no title worked out).
    assert article_body(text) == parse_article(text, "").body == parse_article(text, "a/b").body


# Text fit for one line of a nav text or teaser: printable, no line breaks.
LINE_CHARS = st.characters(categories=["L", "N", "P", "S", "Zs"], exclude_characters="\t")
NAV_TEXT = st.text(LINE_CHARS, min_size=1, max_size=60).filter(lambda t: t == " ".join(t.split()) and t != "")
TEASER = st.text(LINE_CHARS, min_size=1, max_size=70).filter(
    lambda t: t.strip() != "" and not t[0].isspace() and not t.startswith(("<<:", ">>:"))
)
FOOTERS = st.tuples(st.none() | NAV_TEXT, st.none() | NAV_TEXT, st.lists(TEASER, max_size=17))

# Body lines: anything on one line, footer-looking text included.
BODY_LINE = st.one_of(
    st.text(st.characters(exclude_characters="\n\r\x85\u2028\u2029"), max_size=40),
    st.lists(
        st.one_of(st.text(LINE_CHARS, max_size=10), FRAGMENTS.filter(lambda f: f not in LINE_BREAKS)),
        max_size=6,
    ).map("".join),
)


@given(st.lists(BODY_LINE, min_size=1, max_size=12), FOOTERS)
def test_parse_keeps_every_body_line(lines, footer):
    first, last = strip_controls(lines[0]), strip_controls(lines[-1])
    assume(not lines[0].startswith("\ufeff") and not first.startswith("# "))
    assume(not last.startswith(("<<:", ">>:")))
    assume(strip_controls(lines[-1] + " |") == last + " |")  # a trailing ESC would eat the mark
    prev, nxt, teasers = footer
    text = "\n".join(lines) + " |"
    rendered_footer = render_footer(prev, nxt, teasers)
    if rendered_footer:
        text += "\n" + rendered_footer
    article = parse(text)
    # The body is the body lines, cleaned, with only the outer blank space trimmed.
    clean = [strip_controls(line) for line in lines]
    clean[-1] = clean[-1].rstrip()
    assert article.body == "\n".join(clean).strip("\n").rstrip()
    assert (article.prev, article.next, article.teasers) == (prev, nxt, tuple(teasers))


@given(FOOTERS)
def test_render_footer_round_trips(footer):
    prev, nxt, teasers = footer
    article = parse("A body line. |\n" + render_footer(prev, nxt, teasers))
    assert (article.prev, article.next, article.teasers) == (prev, nxt, tuple(teasers))
    assert article.body == "A body line."


CLEAN_BODY = st.lists(
    st.one_of(st.text(LINE_CHARS, max_size=50), FRAGMENTS.filter(lambda f: f in {"<<: ", ">>: ", "...", "|"})),
    max_size=8,
).map(lambda parts: "\n".join(parts).strip())


@given(CLEAN_BODY, FOOTERS, st.none() | NAV_TEXT)
def test_render_article_round_trips(body, footer, heading):
    assume(not body.startswith("# "))
    last_line = body.rsplit("\n", 1)[-1]
    assume(not last_line.startswith(("<<:", ">>:")))
    prev, nxt, teasers = footer
    article = Article(
        id="ec7fe29246c6fc0e",
        path="ec7fe29246c6fc0e.txt",
        title=heading or "",
        title_source=TITLE_FROM_HEADING if heading else TITLE_FROM_BODY,
        body=body,
        prev=prev,
        next=nxt,
        teasers=tuple(teasers),
    )
    again = parse_article(render_article(article), article.id)
    assert (again.body, again.prev, again.next, again.teasers) == (body, prev, nxt, tuple(teasers))
    if heading:
        assert (again.title, again.title_source) == (heading, TITLE_FROM_HEADING)


def test_a_one_line_body_starting_with_hash_is_not_a_heading():
    # Found by the round-trip property: the body "#" renders as "# |", which
    # once parsed as a heading "|" and an empty body.
    article = parse_article("# |\n", "x")
    assert article.body == "#"
    assert article.title_source != TITLE_FROM_HEADING
    titled = parse_article("# Real title\nBody text |\n", "x")
    assert (titled.title, titled.body) == ("Real title", "Body text")
