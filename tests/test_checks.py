"""``healthkb check`` problem detection: one case per kind, streaming input,
deterministic order, and the issue 5 acceptance KB reporting exactly its problems."""

from __future__ import annotations

from healthkb.article import parse_article
from healthkb.checks import (
    KINDS,
    Problem,
    article_problems,
    global_problems,
    kb_problems,
    skipped_problems,
    sort_problems,
)
from healthkb.files import decode_bytes
from healthkb.links import Link, resolve_all
from test_links import PREV_ID, SEED_ID, acceptance_kb, make

CARCINOMA = "Nasopharyngeal carcinoma is a malignant tumor that starts behind the nose."


def kinds_of(problems, article_id=None):
    return [p.kind for p in problems if article_id is None or p.id == article_id]


def test_a_healthy_kb_has_no_problems():
    first = make("a/first-step", nxt="Second step", teasers=[CARCINOMA[:49]])
    second = make("a/second-step", prev="First step", body=CARCINOMA)
    assert kb_problems([first, second]) == []


def test_missing_nav_targets_are_reported_with_their_text():
    article = make("a/lonely", prev="Nobody here", nxt="How much water should an adult drink each day?")
    assert kb_problems([article]) == [
        Problem("missing_next", "a/lonely", '">>: How much water should an adult drink each day?" matches no article'),
        Problem("missing_prev", "a/lonely", '"<<: Nobody here" matches no article'),
    ]


def test_missing_teaser_is_reported_by_number():
    article = make("a/src", teasers=["The main cause of cervical cancer is persistent i"])
    (problem,) = kb_problems([article])
    assert problem.kind == "missing_related"
    assert problem.detail.startswith('teaser 1 "The main cause of cervical cancer')


def test_ambiguous_link_lists_the_candidates():
    articles = [
        make("b/one", body=CARCINOMA[:49] + " one way"),
        make("a/two", body=CARCINOMA[:49] + " or another"),
        make("c/src", teasers=["filler teaser that matches nothing", CARCINOMA[:49]]),
    ]
    problems = [p for p in kb_problems(articles) if p.kind == "ambiguous_link"]
    assert problems == [Problem("ambiguous_link", "c/src", f'teaser 2 "{CARCINOMA[:49]}…" matches a/two, b/one')]


def test_weak_teaser_is_its_own_kind_not_a_missing_link():
    article = make("a/src", teasers=["Hair ..."])
    (problem,) = kb_problems([article, make("s/hair", body="Hair grows back.")])
    assert problem.kind == "weak_teaser"
    assert "too short" in problem.detail


def test_links_to_the_article_itself_are_self_links():
    article = make("sleep/naps", prev="Naps", body=CARCINOMA, teasers=[CARCINOMA[:40]])
    problems = kb_problems([article])
    assert kinds_of(problems) == ["self_link", "self_link"]
    assert problems[0].detail == '"<<: Naps" leads back to this article'
    assert problems[1].detail.startswith("teaser 1 ")


def test_one_way_nav_in_each_direction_and_its_reason():
    articles = [
        make("n/alpha", nxt="Beta"),  # beta has no "<<:" line
        make("n/beta", nxt="Gamma"),  # gamma's "<<:" names alpha instead
        make("n/gamma", prev="Alpha"),  # alpha's ">>:" leads to beta, not here
    ]
    problems = kb_problems(articles)
    assert problems == [
        Problem("one_way_nav", "n/alpha", '">>: Beta" leads to n/beta, which has no "<<:" line'),
        Problem("one_way_nav", "n/beta", '">>: Gamma" leads to n/gamma, whose "<<:" leads to n/alpha'),
        Problem("one_way_nav", "n/gamma", '"<<: Alpha" leads to n/alpha, whose ">>:" leads to n/beta'),
    ]


def test_one_way_nav_when_the_way_back_matches_no_article():
    # (A heading, or reciprocal inference would name alpha "Somewhere else".)
    articles = [make("n/alpha", heading="Alpha", nxt="Beta"), make("n/beta", prev="Somewhere else")]
    assert [(p.kind, p.id) for p in kb_problems(articles)] == [("missing_prev", "n/beta"), ("one_way_nav", "n/alpha")]
    assert "does not lead back" in kb_problems(articles)[1].detail


def test_cycle_of_prev_next_is_not_a_problem_when_reciprocal():
    articles = [
        make("n/alpha", prev="Beta", nxt="Beta"),
        make("n/beta", prev="Alpha", nxt="Alpha"),
    ]
    assert kb_problems(articles) == []


def test_two_articles_with_the_same_title():
    articles = [make("a/dry-eyes"), make("b/notes", heading="Dry EYES!"), make("c/other")]
    problems = kb_problems(articles)
    assert problems == [
        Problem("duplicate_title", "a/dry-eyes", 'title "Dry eyes" is also the title of b/notes'),
        Problem("duplicate_title", "b/notes", 'title "Dry EYES!" is also the title of a/dry-eyes'),
    ]


def test_cp1252_file_and_empty_body_are_reported():
    decoded = decode_bytes("Caf\xe9 au lait is fine in the morning. |\n".encode("cp1252"))
    mis_encoded = parse_article(decoded.text, "food/cafe", encoding=decoded.encoding, warnings=decoded.warnings)
    empty = parse_article("|\n", "a/empty")
    problems = kb_problems([mis_encoded, empty])
    assert [(p.kind, p.id) for p in problems] == [("empty_body", "a/empty"), ("encoding", "food/cafe")]
    assert "cp1252" in problems[1].detail


def test_skipped_files_keep_their_reasons():
    problems = skipped_problems([("z.txt", "binary file"), (".hidden/a.txt", "hidden")])
    assert problems == [Problem("skipped", ".hidden/a.txt", "hidden"), Problem("skipped", "z.txt", "binary file")]


def test_problems_sort_by_kind_then_id_then_link_order():
    teasers = [f"Teaser number {n} points nowhere at all" for n in range(1, 12)]
    article = make("a/src", teasers=teasers, nxt="Nowhere")
    problems = kb_problems([article, make("0/first", prev="Nowhere either")])
    assert kinds_of(problems) == ["missing_next", "missing_prev"] + ["missing_related"] * 11
    assert [p.detail.split('"')[0] for p in problems[2:]] == [f"teaser {n} " for n in range(1, 12)]
    assert sort_problems(reversed(problems)) == sort_problems(problems)


def test_global_checks_consume_streams():
    articles = [make("n/alpha", nxt="Beta"), make("n/beta"), make("x/beta")]
    resolver, links = resolve_all(articles)
    titles = ((i, t) for i, t, _ in resolver.titles())
    nav_only = ((i, (link for link in ls if link.kind != "related")) for i, ls in links.items())
    problems = global_problems(titles, nav_only)
    assert [(p.kind, p.id) for p in problems] == [("duplicate_title", "n/beta"), ("duplicate_title", "x/beta")]
    # "Beta" names two articles: the link is ambiguous, so it is no one-way nav.
    assert kinds_of(article_problems("n/alpha", "Alpha", links["n/alpha"], body_words=3, encoding="utf-8")) == [
        "ambiguous_link"
    ]


def test_article_problems_from_stored_links():
    links = [
        Link("prev", 0, "Gone", "missing", ()),
        Link("related", 1, "Ambiguous teaser text here", "ambiguous", ("b", "a/x")),
        Link("related", 2, "Teaser to itself, oddly enough", "resolved", ("me",)),
    ]
    problems = article_problems("me", "Me", links, body_words=0, encoding="utf-8")
    assert kinds_of(problems) == ["ambiguous_link", "empty_body", "missing_prev", "self_link"]
    assert all(p.kind in KINDS for p in problems)


def test_acceptance_kb_reports_exactly_its_problems(seed_text):
    _, articles = acceptance_kb(seed_text)
    problems = kb_problems(articles, skipped=[("picture.txt", "binary file")])
    assert {p.id for p in problems} == {SEED_ID, "picture.txt"}
    assert kinds_of(problems) == ["ambiguous_link"] + ["missing_related"] * 11 + ["skipped"]
    assert problems[0].detail.endswith("matches sleep/comfort-first, sleep/comfort-second")
    # When the neighbour names another article, both ends say so.
    _, articles = acceptance_kb(seed_text, neighbour_next="Hair loss")
    one_way = [p for p in kb_problems(articles) if p.kind == "one_way_nav"]
    assert [p.id for p in one_way] == [SEED_ID, PREV_ID]


def test_a_large_group_of_duplicate_titles_names_five_others_and_counts_the_rest():
    titles = [(f"notes/{n}", "Introduction") for n in range(8)]
    problems = global_problems(titles, [])
    assert len(problems) == 8
    assert problems[2].detail == 'title "Introduction" is also the title of notes/0, notes/1, notes/3, notes/4, notes/5 and 2 more'
