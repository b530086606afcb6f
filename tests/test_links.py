"""Cross-link resolution (SPEC §2), reciprocal titles, backlinks and REFs.

Knowledge bases are built in memory with ``parse_article`` from text in the
real on-disk format, so the parser and the resolver are exercised together.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

import healthkb.links as links_module
from healthkb.article import parse_article
from healthkb.errors import AmbiguousRefError, BadInputError, NotFoundError
from healthkb.links import (
    KEY_PREFIX_LIMIT,
    MIN_TEASER_KEY,
    ArticleKeys,
    Link,
    LinkResolver,
    backlinks,
    is_weak_teaser,
    resolve_all,
    resolve_ref,
)

SEED_ID = "000_ec7fe29246c6fc0e"


def article_text(body, prev=None, nxt=None, teasers=(), heading=None):
    """An article in the scraped layout: body ending " |", then the footer."""
    lines = [f"# {heading}"] if heading else []
    lines.append(f"{body} |")
    if prev is not None:
        lines.append(f"<<: {prev}")
    if nxt is not None:
        lines.append(f">>: {nxt}")
    lines.extend(f"{teaser}..." for teaser in teasers)
    return "\n".join(lines) + "\n"


def make(article_id, body="Some plain body text that says little.", **footer):
    return parse_article(article_text(body, **footer), article_id)


def resolve(*articles):
    return resolve_all(articles)


def link_of(links, kind, ordinal=0):
    (found,) = [link for link in links if link.kind == kind and link.ordinal == ordinal]
    return found


# --- nav text against titles -------------------------------------------------


def test_nav_text_matches_a_file_name_title_ignoring_case_and_punctuation():
    source = make("abc123", nxt="Can walking backwards relieve lumbar disc herniation?")
    target = make("back/can-walking-backwards-relieve-lumbar-disc-herniation")
    _, links = resolve(source, target)
    assert links["abc123"] == [
        Link("next", 0, "Can walking backwards relieve lumbar disc herniation?", "resolved", (target.id,))
    ]


def test_nav_matching_normalises_unicode_width_and_accents():
    source = make("abc123", prev="ＣＡＦÉ  au lait — good or bad?")
    target = make("food/cafe-au-lait-good-or-bad")
    _, links = resolve(source, target)
    assert link_of(links["abc123"], "prev").targets == (target.id,)


def test_article_answers_to_its_heading_and_its_file_name():
    target = make("sleep/insomnia-relief", heading="Getting back to sleep")
    by_heading = make("aaa111", nxt="getting back to SLEEP")
    by_name = make("bbb222", nxt="Insomnia relief")
    resolver, links = resolve(target, by_heading, by_name)
    assert link_of(links["aaa111"], "next").targets == (target.id,)
    assert link_of(links["bbb222"], "next").targets == (target.id,)
    # The heading stays the title even though neighbours call it otherwise.
    assert resolver.title(target.id) == ("Getting back to sleep", "heading")


def test_hash_file_name_is_not_a_title_key():
    target = make("ec7fe29246c6fc0e")
    source = make("sleep/notes", nxt="ec7fe29246c6fc0e")
    _, links = resolve(target, source)
    assert link_of(links["sleep/notes"], "next").status == "missing"


def test_two_articles_with_the_same_title_make_the_nav_link_ambiguous():
    first = make("b/dry-eyes")
    second = make("a/dry-eyes", heading="Dry eyes")
    source = make("c/source", prev="Dry eyes")
    _, links = resolve(first, second, source)
    assert link_of(links["c/source"], "prev") == Link("prev", 0, "Dry eyes", "ambiguous", ("a/dry-eyes", "b/dry-eyes"))


def test_nav_text_matching_no_title_is_missing():
    _, links = resolve(make("a/one", nxt="How much water should an adult drink each day?"))
    assert link_of(links["a/one"], "next") == Link(
        "next", 0, "How much water should an adult drink each day?", "missing", ()
    )


def test_nav_text_with_escape_sequences_is_sanitised_and_still_matches():
    resolver = LinkResolver([ArticleKeys.from_article(make("food/hairy-crabs"))])
    link = resolver.resolve_nav("prev", "\x1b[31mHairy\x1b]0;pwned\x07 crabs\x9b2J\r\n")
    assert link is not None
    assert link.text == "Hairy crabs"
    assert link.targets == ("food/hairy-crabs",)
    assert resolver.resolve_nav("next", None) is None
    assert resolver.resolve_nav("next", "\x1b[0m \t") is None  # nothing left to show


# --- display titles and reciprocal inference ---------------------------------


def test_neighbours_nav_text_becomes_the_display_title_of_a_file_named_article():
    target = make("food/can-i-drink-red-wine-while-eating-hairy-crabs")
    source = make("abc123", prev="Can I drink red wine while eating hairy crabs?")
    resolver, _ = resolve(target, source)
    assert resolver.title(target.id) == ("Can I drink red wine while eating hairy crabs?", "nav")
    assert resolver.title("abc123")[1] == "body"


def test_several_names_for_one_article_pick_the_most_common_then_first_source():
    target = make("t/tinnitus")
    resolver, _ = resolve(
        target, make("s3", nxt="TINNITUS"), make("s1", nxt="Tinnitus!"), make("s2", prev="TINNITUS")
    )
    assert resolver.title(target.id) == ("TINNITUS", "nav")  # used twice
    resolver, _ = resolve(target, make("s2", nxt="TINNITUS"), make("s1", prev="Tinnitus!"))
    assert resolver.title(target.id) == ("Tinnitus!", "nav")  # tie: s1 sorts first


def test_reciprocal_inference_from_prev():
    # A's "<<:" names B; B's ">>:" names A's title, which no file carries.
    neighbour = make("food/hairy-crabs", nxt="Can walking backwards relieve back pain?")
    hashed = make("ab12cd34ef", prev="Hairy crabs")
    resolver, links = resolve(neighbour, hashed)
    assert resolver.title(hashed.id) == ("Can walking backwards relieve back pain?", "nav")
    assert link_of(links[neighbour.id], "next").targets == (hashed.id,)


def test_reciprocal_inference_from_next_mirror():
    neighbour = make("joints/hip-effusion", prev="Walking backwards and the lumbar spine")
    hashed = make("ab12cd34ef", nxt="Hip effusion")
    resolver, links = resolve(neighbour, hashed)
    assert resolver.title(hashed.id) == ("Walking backwards and the lumbar spine", "nav")
    assert link_of(links[neighbour.id], "prev").targets == (hashed.id,)


def test_inference_propagates_along_a_chain_of_hash_named_articles():
    # anchor (heading) → h1 → h2 → h3: every title is only known to the one before.
    anchor = make("anchor", heading="Title zero", nxt="Title one")
    h1 = make("h1", prev="Title zero", nxt="Title two")
    h2 = make("h2", prev="Title one", nxt="Title three")
    h3 = make("h3", prev="Title two")
    resolver, links = resolve(h3, h1, anchor, h2)
    assert [resolver.title(i)[0] for i in ("h1", "h2", "h3")] == ["Title one", "Title two", "Title three"]
    for article_id, target in (("anchor", "h1"), ("h1", "h2"), ("h2", "h3")):
        assert link_of(links[article_id], "next").targets == (target,)
    for article_id, target in (("h1", "anchor"), ("h2", "h1"), ("h3", "h2")):
        assert link_of(links[article_id], "prev").targets == (target,)


def test_inference_propagates_backwards_along_a_chain_too():
    end = make("end", heading="Last one", prev="Middle one")
    middle = make("m1", nxt="Last one", prev="First one")
    first = make("f1", nxt="Middle one")
    resolver, _ = resolve(end, middle, first)
    assert resolver.title("m1") == ("Middle one", "nav")
    assert resolver.title("f1") == ("First one", "nav")


def test_contradictory_footers_infer_nothing():
    neighbour = make("food/hairy-crabs", nxt="Walking backwards")
    claim_a = make("aaa111", prev="Hairy crabs")
    claim_b = make("bbb222", prev="hairy crabs")
    resolver, links = resolve(neighbour, claim_a, claim_b)
    assert resolver.title("aaa111")[1] == "body"
    assert resolver.title("bbb222")[1] == "body"
    assert link_of(links[neighbour.id], "next").status == "missing"


def test_one_title_offered_to_two_articles_in_the_same_round_is_not_given():
    one = make("n/one", nxt="Shared title")
    two = make("n/two", nxt="Shared title")
    resolver, links = resolve(one, two, make("aaa111", prev="One"), make("bbb222", prev="Two"))
    assert resolver.title("aaa111")[1] == resolver.title("bbb222")[1] == "body"
    assert link_of(links["n/one"], "next").status == "missing"


def test_one_article_offered_two_titles_takes_neither():
    before = make("n/before", nxt="First name")
    after = make("n/after", prev="Second name")
    middle = make("aaa111", prev="Before", nxt="After")
    resolver, links = resolve(before, after, middle)
    assert resolver.title("aaa111")[1] == "body"
    assert link_of(links["n/before"], "next").status == "missing"


def test_inference_never_overrides_a_heading_but_may_override_a_file_name():
    neighbour = make("n/source", nxt="A nicer title")
    headed = make("n/headed", heading="Own heading", prev="Source")
    resolver, _ = resolve(neighbour, headed)
    assert resolver.title("n/headed") == ("Own heading", "heading")
    named = make("n/short-name", prev="Source")
    resolver, links = resolve(neighbour, named)
    assert resolver.title("n/short-name") == ("A nicer title", "nav")
    assert link_of(links["n/source"], "next").targets == ("n/short-name",)


def test_cycles_of_prev_next_terminate_and_resolve():
    # A two-cycle and a three-cycle of hash-named articles, one anchored by a heading.
    a = make("aaa", prev="Bee title", nxt="Bee title")
    b = make("bbb", prev="Ay title", nxt="Ay title")
    x = make("x", heading="Ex title", prev="Zed title", nxt="Why title")
    y = make("yyy", prev="Ex title", nxt="Zed title")
    z = make("zzz", prev="Why title", nxt="Ex title")
    resolver, links = resolve(a, b, x, y, z)
    assert resolver.title("yyy")[0] == "Why title"
    assert resolver.title("zzz")[0] == "Zed title"
    assert link_of(links["x"], "prev").targets == ("zzz",)
    assert link_of(links["zzz"], "next").targets == ("x",)
    # Nothing anchors the two-cycle: its titles stay unknown, its links missing.
    assert {link.status for link in links["aaa"] + links["bbb"]} == {"missing"}


def test_a_self_link_resolves_to_itself_and_infers_nothing():
    article = make("sleep/naps", prev="Naps", nxt="Something unclaimed")
    resolver, links = resolve(article)
    assert link_of(links["sleep/naps"], "prev").targets == ("sleep/naps",)
    assert resolver.title("sleep/naps") == ("Naps", "filename")
    assert backlinks(links) == {}


# --- teasers -------------------------------------------------------------------

CARCINOMA = "Nasopharyngeal carcinoma is a malignant tumor that starts behind the nose."


def test_teaser_resolves_to_the_article_whose_body_starts_with_it():
    target = make("c/npc", body=CARCINOMA)
    source = make("s/src", teasers=[CARCINOMA[:49]])
    _, links = resolve(target, source)
    assert links["s/src"] == [Link("related", 1, CARCINOMA[:49], "resolved", ("c/npc",))]


def test_teaser_with_unicode_punctuation_and_extra_spaces_still_matches():
    body = 'Doctors say "walk backwards" - slowly, with care... then rest for a while.'
    target = make("b/walk", body=body)
    teaser = "Doctors  say “walk   backwards” — slowly, with care… then re"
    source = make("s/src", teasers=[teaser])
    _, links = resolve(target, source)
    link = link_of(links["s/src"], "related", 1)
    assert link.targets == ("b/walk",)
    assert "  " not in link.text


def test_teaser_shorter_than_ten_key_characters_is_missing_even_if_a_prefix():
    target = make("c/npc", body=CARCINOMA)
    weak = "Naso-phar"  # 8 letters after normalising
    assert is_weak_teaser(weak) and not is_weak_teaser(CARCINOMA[:MIN_TEASER_KEY])
    _, links = resolve(target, make("s/src", teasers=[weak, CARCINOMA[:MIN_TEASER_KEY]]))
    assert [link.status for link in links["s/src"]] == ["missing", "resolved"]


def test_teaser_shared_by_two_openings_is_ambiguous_with_both():
    one = make("b/one", body=CARCINOMA[:49] + " one way")
    two = make("a/two", body=CARCINOMA[:49] + " or another")
    _, links = resolve(one, two, make("s/src", teasers=[CARCINOMA[:49]]))
    assert link_of(links["s/src"], "related", 1).targets == ("a/two", "b/one")
    assert link_of(links["s/src"], "related", 1).status == "ambiguous"


def test_teaser_longer_than_the_compared_prefix_still_matches_a_long_body():
    body = "word " * 60
    long_teaser = body[: KEY_PREFIX_LIMIT * 2]
    _, links = resolve(make("w/words", body=body), make("s/src", teasers=[long_teaser]))
    assert link_of(links["s/src"], "related", 1).targets == ("w/words",)


def test_teaser_pointing_at_its_own_article_is_kept_as_a_self_link():
    article = make("c/npc", body=CARCINOMA, teasers=[CARCINOMA[:49]])
    _, links = resolve(article)
    assert link_of(links["c/npc"], "related", 1).targets == ("c/npc",)


def test_repeated_teasers_give_the_same_answer_and_the_memo_stays_bounded(monkeypatch):
    monkeypatch.setattr(links_module, "TEASER_CACHE_SIZE", 2)
    bodies = [f"Opening number {n} of a rather ordinary article." for n in range(5)]
    resolver = LinkResolver(ArticleKeys.from_article(make(f"a/{n}", body=b)) for n, b in enumerate(bodies))
    first = [resolver.resolve_teaser(1, body[:30]) for body in bodies]
    again = [resolver.resolve_teaser(1, body[:30]) for body in reversed(bodies)]
    assert [link.targets for link in first] == [(f"a/{n}",) for n in range(5)]
    assert again == first[::-1]
    assert len(resolver._teaser_cache) <= 2


def test_resolve_orders_prev_next_then_teasers_numbered_from_one():
    resolver = LinkResolver([])
    links = resolver.resolve("x", "Before", "After", ["first teaser text", "second teaser text"])
    assert [(link.kind, link.ordinal) for link in links] == [("prev", 0), ("next", 0), ("related", 1), ("related", 2)]
    assert resolver.resolve("x", None, "", []) == []


def test_resolver_is_built_from_a_stream_of_keys():
    articles = [make(f"n/article-{i}", body=f"Body number {i} of the stream.", nxt=f"Article {i + 1}") for i in range(5)]
    resolver = LinkResolver(ArticleKeys.from_article(a) for a in articles)
    assert len(resolver) == 5
    assert resolver.resolve_nav("next", "article 4").targets == ("n/article-4",)
    assert resolver.resolve_teaser(1, "Body number 3 of").targets == ("n/article-3",)


# --- backlinks -------------------------------------------------------------------


def test_backlinks_list_each_resolved_source_once_with_its_kind():
    target = make("c/npc", body=CARCINOMA)
    from_b = make("s/b", prev="npc", teasers=[CARCINOMA[:49], CARCINOMA[:30]])
    from_a = make("s/a", nxt="NPC", teasers=["Not a known opening at all"])
    _, links = resolve(target, from_a, from_b, make("s/c", teasers=[CARCINOMA[:5]]))
    assert backlinks(links) == {"c/npc": [("s/a", "next"), ("s/b", "prev"), ("s/b", "related")]}
    assert backlinks(iter(links.items())) == backlinks(links)


# --- the acceptance case of issue 5 -----------------------------------------------

PREV_ID = "food/can-i-drink-red-wine-while-eating-hairy-crabs"
NEXT_ID = "joints/hip-effusion"
SEED_TITLE = "Can walking backwards relieve lumbar disc herniation?"


def acceptance_kb(seed_text, neighbour_next=SEED_TITLE, neighbour_prev=SEED_TITLE):
    seed = parse_article(seed_text, SEED_ID)
    t = seed.teasers
    articles = [
        seed,
        make(PREV_ID, body="Crabs are cold food and wine is not for everyone.", nxt=neighbour_next),
        make(NEXT_ID, heading=seed.next, body="Rest helps, but lying flat all day is not needed.", prev=neighbour_prev),
        make("cancer/npc", body=t[0] + "t grows in the upper throat behind the nose."),
        make("colds/fever-at-home", body=t[2] + "r every winter, and most pass on their own."),
        make("skin/hair-loss", body=t[7] + " notice at some point in their life."),
        # Two articles that open with the same 49 characters as teaser 4.
        make("sleep/comfort-first", body=t[3] + "table position comes first."),
        make("sleep/comfort-second", body=t[3] + "ting thought is that it passes."),
    ]
    return seed, articles


def test_acceptance_case_of_issue_5(seed_text):
    seed, articles = acceptance_kb(seed_text)
    assert len(seed.teasers) == 15  # the seed carries 15 teasers, not 17
    resolver, links = resolve_all(articles)
    out = links[SEED_ID]
    assert link_of(out, "prev").targets == (PREV_ID,)
    assert link_of(out, "next").targets == (NEXT_ID,)
    related = {link.ordinal: link for link in out if link.kind == "related"}
    assert related[1].targets == ("cancer/npc",)
    assert related[3].targets == ("colds/fever-at-home",)
    assert related[8].targets == ("skin/hair-loss",)
    assert related[4].status == "ambiguous"
    assert related[4].targets == ("sleep/comfort-first", "sleep/comfort-second")
    assert sorted(n for n, link in related.items() if link.status == "missing") == [2, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15]
    found = backlinks(links)
    assert (SEED_ID, "next") in found[NEXT_ID]
    assert (SEED_ID, "prev") in found[PREV_ID]
    # The neighbour's ">>:" names a title no other article has: the seed takes it.
    assert resolver.title(SEED_ID) == (SEED_TITLE, "nav")
    assert found[SEED_ID] == [(PREV_ID, "next"), (NEXT_ID, "prev")]


def test_acceptance_seed_title_comes_from_either_neighbour(seed_text):
    # The previous neighbour's ">>:" names another article; the next
    # neighbour's "<<:" still names the seed (the mirror case).
    _, articles = acceptance_kb(seed_text, neighbour_next="Hair loss")
    resolver, links = resolve_all(articles)
    assert resolver.title(SEED_ID) == (SEED_TITLE, "nav")
    assert link_of(links[PREV_ID], "next").targets == ("skin/hair-loss",)
    assert link_of(links[NEXT_ID], "prev").targets == (SEED_ID,)


def test_acceptance_seed_keeps_its_body_title_when_no_neighbour_names_it(seed_text):
    _, articles = acceptance_kb(seed_text, neighbour_next="Hair loss", neighbour_prev="Hair loss")
    resolver, links = resolve_all(articles)
    assert resolver.title(SEED_ID) == (articles[0].title, "body")
    assert link_of(links[NEXT_ID], "prev").targets == ("skin/hair-loss",)


# --- REFs -----------------------------------------------------------------------

ENTRIES = [
    ("sleep/insomnia-relief", "Insomnia relief"),
    ("sleep/insomnia-at-night", "Why insomnia strikes at night"),
    ("back/lumbar-exercises", "Exercises that protect the lumbar spine"),
    ("sleep", "Sleep basics"),
    ("food/sleepy-foods", "Sleep"),
    (SEED_ID, SEED_TITLE),
]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("sleep/insomnia-relief", "sleep/insomnia-relief"),  # exact id
        ("sleep/insomnia-relief.txt", "sleep/insomnia-relief"),  # as a file name
        ("sleep", "sleep"),  # an exact id wins over a title with the same key
        ("SLEEP/INSOMNIA-RELIEF", "sleep/insomnia-relief"),  # id, any case
        ("insomnia relief", "sleep/insomnia-relief"),  # exact title (by match key)
        ("sleep!", "food/sleepy-foods"),  # exact title beats prefixes of "Sleep basics"
        ("000_ec7", SEED_ID),  # unique id prefix
        ("can walking back", SEED_ID),  # unique title prefix
        ("back/", "back/lumbar-exercises"),
        ("  Exercises that  ", "back/lumbar-exercises"),
    ],
)
def test_resolve_ref_finds_ids_titles_and_unique_prefixes(ref, expected):
    assert resolve_ref(ref, ENTRIES) == expected


def test_ambiguous_ref_lists_every_candidate_and_exits_2():
    with pytest.raises(AmbiguousRefError) as caught:
        resolve_ref("sleep/insomnia", ENTRIES)
    assert caught.value.exit_code == 2
    assert caught.value.candidates == [
        ("sleep/insomnia-at-night", "Why insomnia strikes at night"),
        ("sleep/insomnia-relief", "Insomnia relief"),
    ]


@pytest.mark.parametrize("ref", ["../../etc/passwd", "/etc/passwd", "sleep/*", "~", "zzz-nothing"])
def test_paths_globs_and_unknown_refs_match_nothing(ref):
    with pytest.raises(NotFoundError) as caught:
        resolve_ref(ref, ENTRIES)
    assert caught.value.exit_code == 1
    assert caught.value.hint


@pytest.mark.parametrize("ref", ["", "   ", "\x1b[0m"])
def test_empty_ref_is_bad_input(ref):
    with pytest.raises(BadInputError) as caught:
        resolve_ref(ref, ENTRIES)
    assert caught.value.exit_code == 2


def test_punctuation_only_ref_does_not_prefix_match_every_title():
    with pytest.raises(NotFoundError):
        resolve_ref("?!", ENTRIES)


# --- property: resolution never raises and statuses agree with targets -------------

_WORDS = ["Sleep", "sleep!", "Dry eyes", "dry-eyes", "Café", "cafe", "  ", "\x1b[1m", "“x”", "—", "…", "é"]
_text = st.lists(st.sampled_from(_WORDS) | st.text(string.ascii_letters + " .?", max_size=12), max_size=4).map(
    " ".join
)
_article = st.builds(
    lambda name, body, prev, nxt, teasers, heading: (name, body, prev, nxt, teasers, heading),
    st.sampled_from(["a", "b", "dry-eyes", "sleep", "cafe", "h1f2e3"]),
    _text,
    st.none() | _text,
    st.none() | _text,
    st.lists(_text, max_size=3),
    st.none() | _text,
)


@given(st.lists(_article, max_size=8))
def test_resolution_never_raises_and_statuses_match_targets(specs):
    articles = []
    for index, (name, body, prev, nxt, teasers, heading) in enumerate(specs):
        text = article_text(body, prev=prev, nxt=nxt, teasers=teasers, heading=heading)
        articles.append(parse_article(text, f"d{index}/{name}"))
    resolver, links = resolve_all(articles)
    ids = {a.id for a in articles}
    expected = {0: "missing", 1: "resolved"}
    for article in articles:
        title, source = resolver.title(article.id)
        if article.title_source == "heading":
            assert (title, source) == (article.title, "heading")
        for link in links[article.id]:
            assert link.status == expected.get(len(link.targets), "ambiguous")
            assert list(link.targets) == sorted(set(link.targets)) and set(link.targets) <= ids
            assert "\x1b" not in link.text
    for target, sources in backlinks(links).items():
        assert target in ids and all(source != target for source, _ in sources)
