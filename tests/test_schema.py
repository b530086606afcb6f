"""The index's fast term path must produce exactly Whoosh's own postings."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import fields

from healthkb.index.schema import HealthTokenizer, build_schema

WORDS = st.sampled_from(
    ["lumbar", "Backwards", "herniation", "the", "AND", "café", "Crème", "naïve", "ﬁle", "Ærø",
     "a.b.c", "x", "12", "über", "İstanbul", "ß", "walking", "spine,", "—", "e.g.", "日本語", "Ĳssel"]
)
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(WORDS, max_size=60).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_fast_index_matches_whoosh_text_index(text):
    schema = build_schema()
    for name in ("title", "body"):
        field = schema[name]
        assert sorted(field.index(text)) == sorted(fields.TEXT.index(field, text))  # same format object


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_terms_match_the_tokenizer(text):
    tokenizer = HealthTokenizer()
    assert tokenizer.terms(text) == [t.text for t in tokenizer(text)]


def test_stemming_and_folding_examples():
    terms = HealthTokenizer().terms
    assert terms("backward") == terms("backwards")
    assert terms("herniated") == terms("herniation")
    assert terms("cafe") == terms("café")
    assert terms("the and of") == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=50))
def test_compact_positions_round_trip(raw):
    from healthkb.index.schema import CompactPositions

    positions = sorted(set(raw))
    fmt = CompactPositions(field_boost=2.0)
    encoded = fmt.encode(positions)
    assert fmt.decode_positions(encoded) == positions
    assert fmt.decode_frequency(encoded) == len(positions)
    assert fmt.decode_weight(encoded) == 2.0 * len(positions)


PLAIN_WORDS = st.sampled_from(
    ["lumbar", "spine", "the", "and", "walking", "backwards", "gastro-oesophageal", "don't", "café",
     "x", "12", "e-mail", "Herniation", "υγεία", "腰椎", "AND", "OR", "NOT", "to"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PLAIN_WORDS, min_size=1, max_size=6).map(" ".join), st.booleans())
def test_plain_query_equals_the_parsers(text, any_term):
    from whoosh.qparser import AndGroup, MultifieldParser, OrGroup

    from healthkb.query.plainquery import ANY_TERM_SCALE, is_plain, plain_query

    schema = build_schema()
    built = plain_query(text, schema["body"].analyzer, any_term=any_term)
    if not is_plain(text):
        assert built is None
        return
    group = OrGroup.factory(ANY_TERM_SCALE) if any_term else AndGroup
    parsed = MultifieldParser(["title", "body"], schema, group=group).parse(text)
    assert built == parsed
    assert getattr(built, "scale", None) == getattr(parsed, "scale", None)
