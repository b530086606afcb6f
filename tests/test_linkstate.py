"""Incremental link updates (issue 15): one change updates only what it
touches, and the result is exactly what a full build of the same files gives.

The property test draws small KBs whose nav texts, headings, file names,
openings and teasers collide on purpose (shared titles, titles no file owns so
that reciprocal inference kicks in, shared openings, teasers that are prefixes
of several openings), applies one random change (add, remove, rename, edit
the first sentence, edit a nav line or heading) and compares every stored
link, title and resolver table with a fresh full build.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clihelp import article, run_cli
from healthkb.corpus import load_article, scan_kb
from healthkb.index.api import open_index
from healthkb.index.catalog import decode_teasers, encode_teasers
from healthkb.index.store import index_paths
from healthkb.index.update import update_index
from healthkb.kb import KB
from healthkb.links import MAX_CANDIDATES, backlinks, resolve_all

NAMES = ["knee-pain", "sleep-well", "back-ache", "cold-feet", "hay-fever", "dry-skin"]
NAV_TEXTS = ["Knee pain", "Sleep well", "Back ache", "Lost title", "Another lost one", "Hay fever!", "Orphan name"]
HEADINGS = [None, None, "Knee pain", "Lost title", "Shared heading", "Orphan name"]
OPENINGS = [
    "Boilerplate opening sentence shared by many articles here.",
    "Boilerplate opening sentence shared by many articles there.",
    "Knees carry the whole body and deserve some care every day.",
    "Sleep comes easier in a dark, quiet and cool bedroom at night.",
    "Cold feet are common in winter and usually harmless to adults.",
]
TEASERS = [o[:n] for o in OPENINGS for n in (30, 49)] + ["Boilerplate opening", "Nothing starts like this one"]

FOLDERS = ["a", "b"]


@st.composite
def articles(draw):
    return {
        "heading": draw(st.sampled_from(HEADINGS)),
        "body": draw(st.sampled_from(OPENINGS)) + " More words follow.",
        "prev": draw(st.sampled_from([None, *NAV_TEXTS])),
        "next": draw(st.sampled_from([None, *NAV_TEXTS])),
        "teasers": draw(st.lists(st.sampled_from(TEASERS), max_size=3)),
    }


LOST = ["Lost title", "Another lost one", "Orphan name"]


@st.composite
def kbs(draw):
    paths = draw(st.lists(st.tuples(st.sampled_from(FOLDERS), st.sampled_from(NAMES)), min_size=1, max_size=7, unique=True))
    kb = {f"{folder}/{name}.txt": draw(articles()) for folder, name in paths}
    if draw(st.booleans()):
        # A nav chain whose lines name the neighbour by file name or by a
        # title no file has: where reciprocal title inference happens.
        order = list(kb)
        for left, right in zip(order, order[1:]):
            kb[left]["next"] = draw(st.sampled_from([_name_title(right), *LOST]))
            kb[right]["prev"] = draw(st.sampled_from([_name_title(left), *LOST]))
    return kb


def _name_title(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".txt").replace("-", " ").capitalize()


def _text(spec: dict) -> str:
    return article(spec["body"], spec["prev"], spec["next"], spec["teasers"], heading=spec["heading"])


@st.composite
def changes(draw, kb: dict):
    paths = sorted(kb)
    kinds = ["add", "remove", "rename", "first_sentence", "nav", "heading"]
    kind = draw(st.sampled_from(kinds))
    free = [f"{f}/{n}.txt" for f in FOLDERS for n in NAMES if f"{f}/{n}.txt" not in kb]
    if kind in ("add", "rename") and not free:
        kind = "first_sentence"
    path = draw(st.sampled_from(paths))
    if kind == "add":
        return ("add", draw(st.sampled_from(free)), draw(articles()))
    if kind == "rename":
        return ("rename", path, draw(st.sampled_from(free)))
    if kind == "remove":
        return ("remove", path, None)
    spec = dict(kb[path])
    if kind == "first_sentence":
        spec["body"] = draw(st.sampled_from(OPENINGS)) + " More words follow."
    elif kind == "nav":
        spec[draw(st.sampled_from(["prev", "next"]))] = draw(st.sampled_from([None, *NAV_TEXTS]))
    else:
        spec["heading"] = draw(st.sampled_from(HEADINGS))
    return ("edit", path, spec)


def _write(root: Path, kb: dict) -> None:
    for rel, spec in kb.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_text(spec), encoding="utf-8")


def _bump(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    os.utime(path.parent, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def _apply(root: Path, change) -> None:
    kind, rel, value = change
    path = root / rel
    if kind == "add":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_text(value), encoding="utf-8")
        _bump(path)
    elif kind == "remove":
        parent = path.parent
        path.unlink()
        os.utime(parent, ns=(0, parent.stat().st_mtime_ns + 2_000_000_000))
    elif kind == "rename":
        target = root / value
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
        _bump(target)
        os.utime(path.parent, ns=(0, path.parent.stat().st_mtime_ns + 3_000_000_000))
    else:
        path.write_text(_text(value), encoding="utf-8")
        _bump(path)


def link_state(root: Path) -> dict:
    """Everything links and titles store, by article id (rowids differ between builds)."""
    db = sqlite3.connect(index_paths(KB(root, "option")).catalog)
    try:
        ids = dict(db.execute("SELECT rowid, id FROM articles"))
        articles = sorted(db.execute("SELECT id, title, title_source, title_key, opening FROM articles"))
        links = sorted(
            (ids[src], kind, ordinal, -1 if keyhash is None else keyhash, status, count, ids.get(target))
            for src, kind, ordinal, keyhash, status, count, target in db.execute("SELECT * FROM links")
        )
        names = sorted((key, role, ids[art]) for key, role, art in db.execute("SELECT key, role, art FROM names"))
        claims = sorted((key, ids[art]) for key, art in db.execute("SELECT key, art FROM claims"))
        waiting = sorted((key, side, ids[art]) for key, side, art in db.execute("SELECT key, side, art FROM waiting"))
    finally:
        db.close()
    return {"articles": articles, "links": links, "names": names, "claims": claims, "waiting": waiting}


def _reindex(root: Path, full: bool = False):
    return update_index(index_paths(KB(root, "option")), full=full)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_one_change_gives_the_links_and_titles_of_a_full_build(tmp_path_factory, data):
    kb = data.draw(kbs())
    change = data.draw(changes(kb))
    root = tmp_path_factory.mktemp("kb")
    _write(root, kb)
    _reindex(root, full=True)
    _apply(root, change)
    report = _reindex(root)
    assert not report.full, report.notices
    incremental = link_state(root)
    fresh = tmp_path_factory.mktemp("fresh")
    shutil.rmtree(fresh)
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns(".healthkb"))
    _reindex(fresh, full=True)
    assert incremental == link_state(fresh)
    event(f"claims: {bool(incremental['claims'])}, waiting: {bool(incremental['waiting'])}, change: {change[0]}")


def _many(root: Path, count: int, body, teasers=lambda n: ()) -> None:
    for n in range(count):
        path = root / "many" / f"article-{n:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article(body(n), teasers=teasers(n)), encoding="utf-8")


def test_every_article_opening_with_the_same_sentence_stores_one_row_per_link(make_kb, tmp_path):
    """Bad input (issue 15): identical openings.  Each ambiguous teaser is one
    row with the count of its candidates; `links` and `check` list the first
    20 (looked up by id) and say how many more."""
    root = make_kb({})
    same = "Please consult a doctor before acting on anything you read here"
    _many(root, 60, lambda n: f"{same}. Article {n} goes on.", lambda n: [same[:49]])
    assert run_cli("--kb", str(root), "reindex").code == 0
    db = sqlite3.connect(index_paths(KB(root, "option")).catalog)
    per_link = db.execute("SELECT count(*), max(count), max(target) FROM links GROUP BY src, kind, ordinal").fetchall()
    assert set(per_link) == {(1, 60, 0)}
    db.close()
    shown = run_cli("--kb", str(root), "links", "many/article-0001", "--json")
    related = shown.json["related"][0]
    assert related["status"] == "ambiguous" and related["candidate_count"] == 60
    assert related["candidates"] == [f"many/article-{n:04d}" for n in range(MAX_CANDIDATES)]
    table = run_cli("--kb", str(root), "links", "many/article-0001")
    assert "and 40 more" in table.stdout
    checked = run_cli("--kb", str(root), "check")
    assert checked.code == 1
    lines = checked.stdout.splitlines()
    ambiguous = [line for line in lines if "ambiguous_link" in line]
    assert len(ambiguous) == 1, checked.stdout  # one summary, not 60 problems
    problems = run_cli("--kb", str(root), "check", "--json").json["problems"]
    (summary,) = [p for p in problems if p["kind"] == "ambiguous_link"]
    assert "in 60 articles" in summary["detail"] and "and 55 more" in summary["detail"]
    assert summary["links"] == 60 and len(summary["sources"]) == 20
    assert summary["sources"] == sorted(summary["sources"]) and summary["id"] == "many/article-0000"


def test_one_article_linked_from_many_others_is_added_and_removed_in_place(make_kb):
    """Bad input (issue 15): one article every other article's teaser names.
    Removing it turns those links missing; adding it back resolves them, in
    incremental updates equal to a full build."""
    hub_opening = "The hub article opens with this sentence, quoted everywhere else"
    root = make_kb({})
    _many(root, 150, lambda n: f"Article number {n} has its own opening words here.", lambda n: [hub_opening[:49]])
    hub = root / "hub" / "the-hub.txt"
    hub.parent.mkdir()
    hub.write_text(article(hub_opening + "."), encoding="utf-8")
    _reindex(root, full=True)
    hub.unlink()
    os.utime(hub.parent, ns=(0, hub.parent.stat().st_mtime_ns + 2_000_000_000))
    report = _reindex(root)
    assert report.removed == ["hub/the-hub"]
    gone = link_state(root)
    assert {link[4] for link in gone["links"]} == {2}  # all missing
    hub.write_text(article(hub_opening + "."), encoding="utf-8")
    _bump(hub)
    report = _reindex(root)
    assert report.added == ["hub/the-hub"] and report.revived == 150
    back = link_state(root)
    fresh = root.parent / "fresh-hub"
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns(".healthkb"))
    _reindex(fresh, full=True)
    assert back == link_state(fresh)


def test_renaming_an_article_its_neighbours_name_keeps_titles_and_links_right(make_kb):
    """Bad input (issue 15): a rename of an article others name in nav lines.
    The nav texts no longer match a file name, so the neighbours' links go
    missing, unless reciprocal inference gives the renamed article its old
    title back, which a full build would do as well."""
    root = make_kb({
        "n/first.txt": article("First article body, long enough to be an opening.", nxt="Middle part"),
        "n/middle-part.txt": article("Middle article body, long enough to be an opening.", prev="First", nxt="Last"),
        "n/last.txt": article("Last article body, long enough to be an opening.", prev="Middle part"),
    })
    _reindex(root, full=True)
    (root / "n" / "middle-part.txt").rename(root / "n" / "renamed.txt")
    _bump(root / "n" / "renamed.txt")
    report = _reindex(root)
    assert report.added == ["n/renamed"] and report.removed == ["n/middle-part"]
    state = link_state(root)
    titles = {row[0]: row[1] for row in state["articles"]}
    assert titles["n/renamed"] == "Middle part"  # inferred from both neighbours
    assert ("n/first", 1, 0) == tuple(x for x in next(l for l in state["links"] if l[0] == "n/first")[:3])
    next_link = next(l for l in state["links"] if l[0] == "n/first" and l[1] == 1)
    assert next_link[6] == "n/renamed"
    fresh = root.parent / "fresh-rename"
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns(".healthkb"))
    _reindex(fresh, full=True)
    assert state == link_state(fresh)


def test_teasers_are_stored_compressed_and_read_back(make_kb):
    root = make_kb({"a/x.txt": article("Body of x long enough to be an opening.", teasers=["Some teaser text é"])})
    _reindex(root, full=True)
    db = sqlite3.connect(index_paths(KB(root, "option")).catalog)
    (blob,) = db.execute("SELECT teasers FROM articles").fetchone()
    db.close()
    assert isinstance(blob, bytes) and decode_teasers(blob) == ("Some teaser text é",)
    awkward = ("Trailing spaces kept   ", "", 'A "quoted" [list], \\ and ', "Ünïcode \u2028 line separator")
    assert decode_teasers(encode_teasers(awkward)) == awkward


def _answers(root: Path) -> dict:
    """Every article's links (capped candidates, counts) and backlinks as the
    index gives them, by article id."""
    found = {}
    with open_index(KB(root, "option"), refresh=False) as ix:
        for row in ix.catalog.iter_articles():
            links = [(l.kind, l.ordinal, l.status, l.targets, l.candidate_count) for l in ix.links(row)]
            found[row.id] = (links, sorted((source, kind) for source, _title, kind in ix.backlinks(row)))
    return found


def _expected(root: Path) -> dict:
    """The same from the files, resolved in memory (links.resolve_all)."""
    scan = scan_kb(root)
    articles = [load_article(file)[0] for file in scan.files]
    _resolver, links = resolve_all(articles)
    into = backlinks(links)
    return {
        a.id: (
            [(l.kind, l.ordinal, l.status, l.targets[:MAX_CANDIDATES], l.candidate_count) for l in links[a.id]],
            sorted(into.get(a.id, [])),
        )
        for a in articles
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_links_candidates_and_backlinks_from_the_catalog_match_resolving_in_memory(tmp_path_factory, data):
    """Ambiguous candidates are looked up and backlinks found through key
    hashes (no stored candidates, no index on targets): both must give what
    resolving the files in memory gives, after a full build and after a change."""
    kb = data.draw(kbs())
    root = tmp_path_factory.mktemp("kb")
    _write(root, kb)
    _reindex(root, full=True)
    assert _answers(root) == _expected(root)
    _apply(root, data.draw(changes(kb)))
    _reindex(root)
    assert _answers(root) == _expected(root)


def test_many_candidates_are_listed_by_id_for_a_nav_line_too(make_kb):
    """An ambiguous nav line (a title 25 articles share) lists the first 20 ids."""
    files = {f"t/same-{n:02d}.txt": article(f"Body {n} of an article sharing a heading.", heading="Shared") for n in range(25)}
    files["t/pointer.txt"] = article("Points at the shared heading.", nxt="Shared")
    root = make_kb(files)
    shown = run_cli("--kb", str(root), "links", "t/pointer", "--json").json
    assert shown["next"]["status"] == "ambiguous" and shown["next"]["candidate_count"] == 25
    assert shown["next"]["candidates"] == [f"t/same-{n:02d}" for n in range(MAX_CANDIDATES)]
