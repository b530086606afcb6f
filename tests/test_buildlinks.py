"""A full build works titles and links out from its catalog (index/buildlinks.py);
what it stores must be what the in-memory resolver of links.py gives for the
same articles (an ambiguous link stores its count, not its candidates:
test_linkstate checks those as `links` shows them).  Random KBs from test_linkstate's strategies (shared titles,
titles no file owns so that reciprocal inference happens, shared openings,
teasers that are prefixes of several openings)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from healthkb.corpus import load_article, scan_kb
from healthkb.index.catalog import KIND_CODES, SOURCE_NAMES, STATUS_CODES
from healthkb.index.store import index_paths
from healthkb.index.update import update_index
from healthkb.kb import KB
from healthkb.links import MAX_CANDIDATES, resolve_all
from test_linkstate import _write, kbs


def _expected(root: Path) -> dict:
    articles = [load_article(file)[0] for file in scan_kb(root).files]
    resolver, links = resolve_all(articles)
    return {
        "titles": sorted(resolver.titles()),
        "claims": sorted(resolver.claims.items()),
        "links": sorted(
            (source, KIND_CODES[link.kind], link.ordinal, STATUS_CODES[link.status], link.candidate_count,
             link.targets if link.status == "resolved" else ())
            for source, found in links.items()
            for link in found
        ),
    }


def _stored(root: Path) -> dict:
    db = sqlite3.connect(index_paths(KB(root, "option")).catalog)
    try:
        ids = dict(db.execute("SELECT rowid, id FROM articles"))
        grouped: dict[tuple, list] = {}
        for src, kind, ordinal, status, count, target in db.execute(
            "SELECT src, kind, ordinal, status, count, target FROM links"
        ):
            entry = grouped.setdefault((ids[src], kind, ordinal, status, count), [])
            if target:
                entry.append(ids[target])
        return {
            "titles": sorted((i, title, SOURCE_NAMES[source]) for i, title, source in db.execute("SELECT id, title, title_source FROM articles")),
            "claims": sorted((key, ids[art]) for key, art in db.execute("SELECT key, art FROM claims")),
            "links": sorted((*key, tuple(sorted(targets))) for key, targets in grouped.items()),
        }
    finally:
        db.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kb=kbs())
def test_a_full_build_stores_what_the_in_memory_resolver_gives(tmp_path_factory, kb):
    root = tmp_path_factory.mktemp("kb")
    _write(root, kb)
    update_index(index_paths(KB(root, "option")), full=True)
    assert _stored(root) == _expected(root)


def test_a_boilerplate_opening_keeps_the_count_and_the_first_candidates_by_id(tmp_path):
    from clihelp import article

    for n in range(MAX_CANDIDATES + 5):
        path = tmp_path / "many" / f"article-{n:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article("The same opening sentence for every one of them. More.", teasers=["The same opening sentence"]))
    update_index(index_paths(KB(tmp_path, "option")), full=True)
    assert _stored(tmp_path) == _expected(tmp_path)
