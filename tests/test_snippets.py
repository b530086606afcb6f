"""Snippets stop reading a long body once the fragments they can show are
found (query/snippets.py), and show exactly what a full scan would."""

from __future__ import annotations

import random

import pytest

from healthkb.index.schema import build_schema
from healthkb.query import snippets
from healthkb.query.snippets import make_snippet

VOCABULARY = "pain lumbar back sleeping sleep insomnia disc herniated herniation the of and a with night".split()


@pytest.fixture(scope="module")
def analyzer():
    return build_schema()["body"].analyzer


def _full_scan(analyzer, body, terms, width=snippets.SNIPPET_CHARS, monkeypatch=None):
    monkeypatch.setattr(snippets, "_shown_matches", lambda matches, _terms, _width: list(matches))
    try:
        return make_snippet(analyzer, body, None, width=width, terms=terms)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("seed", range(40))
def test_a_snippet_is_what_a_full_scan_shows(analyzer, seed, monkeypatch):
    rng = random.Random(seed)
    body = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 900)))
    words = rng.sample(["pain", "lumbar", "sleep", "insomnia", "herniated", "zzz"], rng.randint(1, 3))
    terms = {t for w in words for t in analyzer.terms(w)}
    width = rng.choice([60, snippets.SNIPPET_CHARS, 400])
    fast = make_snippet(analyzer, body, None, width=width, terms=terms)
    assert fast == _full_scan(analyzer, body, terms, width, monkeypatch)


def test_one_term_stops_after_its_fragment(analyzer):
    body = "lumbar pain. " + "filler words here " * 20 + "lumbar " * 500
    terms = set(analyzer.terms("lumbar"))
    scanned = []
    matches = iter_recording(snippets._matches(analyzer, body, terms), scanned)
    shown = snippets._shown_matches(matches, terms, snippets.SNIPPET_CHARS)
    assert shown[0][:2] == (0, 6) and all(m[0] <= snippets.SNIPPET_CHARS for m in shown)
    assert len(scanned) == len(shown) + 1 < 20  # the first match past the fragment ended the scan


def iter_recording(matches, seen):
    for match in matches:
        seen.append(match)
        yield match
