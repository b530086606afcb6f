"""Term-at-a-time collection (query/collecting.py) gives the page Whoosh's
own collector gives, score for score, on real indexes: one segment or many,
with deleted articles, OR trees and OR arrays, boosts and phrases."""

from __future__ import annotations

import random

import pytest
from whoosh.collectors import UnlimitedCollector
from whoosh.query import Or, Phrase, Term

from clihelp import article
from healthkb.index.api import open_index
from healthkb.kb import KB
from healthkb.query.collecting import TermAtATimeCollector
from healthkb.query.ranking import RERANK_DEPTH

WORDS = ("pain sleep back lumbar knee heart blood pressure sugar cell white liver kidney fever cough rash "
         "treatment cause symptom doctor test child newborn skin bone joint muscle nerve stomach").split()


def _prose(rng: random.Random, n: int) -> str:
    # Skewed word choice: some words in most articles, some in few.
    return " ".join(WORDS[min(int(rng.expovariate(0.12)), len(WORDS) - 1)] for _ in range(n)) + "."


@pytest.fixture
def kb(make_kb):
    rng = random.Random(7)
    files = {f"t{k % 4}/a{k:03}.txt": article(_prose(rng, rng.randint(5, 120)), heading=_prose(rng, 3))
             for k in range(150)}
    root = make_kb(files)
    with open_index(KB(root, "option")):
        pass
    # Incremental updates: new segments, and deleted articles in the old one.
    for k in range(0, 150, 9):
        (root / f"t{k % 4}" / f"a{k:03}.txt").write_text(article(_prose(rng, 40)))
    for k in range(5, 150, 23):
        (root / f"t{k % 4}" / f"a{k:03}.txt").unlink()
    (root / "t9").mkdir()
    for k in range(12):
        (root / "t9" / f"b{k}.txt").write_text(article(_prose(rng, 60)))
    return root


def _queries():
    either = lambda *qs, **kw: Or(list(qs), **kw)  # noqa: E731
    tree = lambda *qs: _tree(Or(list(qs)))  # noqa: E731
    per_field = lambda w, boost=1.0: [Term("title", w, boost=boost), Term("body", w, boost=boost)]  # noqa: E731
    return [
        either(*per_field("pain"), *per_field("sleep"), *per_field("nerve")),
        tree(*per_field("pain"), *per_field("lumbar"), *per_field("cell", 0.6), Term("body", "zzzz")),
        either(*per_field("blood"), *per_field("pressur"), Phrase("body", ["blood", "pressur"]),
               Phrase("title", ["white", "cell"], boost=0.6), *per_field("sugar", 0.6)),
        tree(*per_field("treatment"), *per_field("caus"), either(*per_field("kidnei"), *per_field("liver")),
             Phrase("body", ["heart", "blood"])),
        either(*per_field("fever"), *per_field("cough"), boost=1.5),
    ]


def _tree(query: Or) -> Or:
    query.matcher_type = Or.DEFAULT_MATCHER  # a tree of unions, as expansion.union builds
    return query


def _every_hit(searcher, query) -> list[tuple[float, int]]:
    """(score, docnum) of every match, best first (ties: lower docnum first),
    from Whoosh's collector that scores everything and skips nothing.  (Its
    top-N collector is not the reference: its block-quality pruning has been
    seen to miss the best hit, with BM25F's b at 0.75 on the index below.)"""
    collector = UnlimitedCollector()
    searcher.search_with_collector(query, collector)
    return [(h.score, h.docnum) for h in collector.results()]


@pytest.mark.parametrize("limit", [1, 10, 50])
def test_the_page_and_its_scores_are_whoosh_s(kb, limit):
    with open_index(KB(kb, "option")) as ix:
        searcher = ix.searcher().searcher
        assert len(list(searcher.leaf_searchers())) > 1  # several segments, some with deletions
        assert any(leaf.reader().has_deletions() for leaf, _ in searcher.leaf_searchers())
        norms: dict = {}
        for query in _queries():
            every = _every_hit(searcher, query)
            collector = TermAtATimeCollector(limit, norms)
            searcher.search_with_collector(query, collector)
            got = collector.results()
            assert [(h.score, h.docnum) for h in got] == every[:limit], query
            assert got.estimated_length() == searcher.search(query, limit=limit).estimated_length()
            assert got.scored_length() == min(limit, len(every)) > 0
        assert norms  # the length tables were used


def test_a_question_ranks_as_with_whoosh_s_collector(kb, monkeypatch):
    questions = ["what causes lumbar pain and poor sleep?", "why does my knee hurt when my blood sugar is high?",
                 "how do I treat a cough and fever in a newborn child?"]
    with open_index(KB(kb, "option")) as ix:
        fast = [ix.search(q, limit=10) for q in questions]
        searcher = ix.searcher()
        used = []
        monkeypatch.setattr(searcher, "_collect_question",
                            lambda query, limit: used.append(limit) or searcher.searcher.search(query, limit=limit))
        plain = [ix.search(q, limit=10) for q in questions]
    assert used == [RERANK_DEPTH] * len(questions)
    for a, b in zip(fast, plain):
        assert [(h.id, h.score) for h in a.hits] == [(h.id, h.score) for h in b.hits]
        assert a.hits and (a.total, a.total_exact) == (b.total, b.total_exact)



def test_packed_values_are_split_only_when_read():
    from healthkb.index.codec import _VALUES, LazyValues, _pack_values, unpack

    values = [b"\x01\x02", b"", b"x" * 300, b"\x7f"]
    lazy = unpack(_VALUES, _pack_values(values).decode("latin-1"))
    assert isinstance(lazy, LazyValues) and lazy._values is None  # nothing split by unpickling
    assert lazy[2] == b"x" * 300 and lazy[-1] == b"\x7f" and lazy[1:3] == (b"", b"x" * 300)
    assert len(lazy) == 4 and list(lazy) == values and lazy == tuple(values)
    assert unpack(_VALUES, "") == ()
