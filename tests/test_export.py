"""`healthkb export` and `healthkb graph`: formats, atomic output files,
Graphviz validity, and what the built wheel ships."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from healthkb.exporting import Edge, dot_lines, dot_quote, graph_json_lines, jsonl_lines, write_atomic
from healthkb.errors import BadInputError

from clihelp import article, invoke

REPO = Path(__file__).resolve().parents[1]
SEED_ID = "000_ec7fe29246c6fc0e"
DOT = shutil.which("dot")



def run(*args):
    return invoke(*args)




@pytest.fixture
def kb(make_kb, seed_path, tmp_path):
    """The starter articles, the seed, and a few hand-made articles with awkward
    names and titles (quotes, backslashes, DOT escapes) and links of every status."""
    root = tmp_path / "export-kb"
    for source in (REPO / "kb").rglob("*.txt"):
        target = root / source.relative_to(REPO / "kb")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    shutil.copyfile(seed_path, root / f"{SEED_ID}.txt")
    return make_kb({
        'odd/say "hi".txt': article("Quoted names must not break the graph.", heading='A "quoted" title \\N with \\'),
        "odd/back\\slash.txt": article("Backslashes in names are data.", nxt='A "quoted" title \\N with \\'),
        "odd/twin-a.txt": article("Shared opening words for two articles, first."),
        "odd/twin-b.txt": article("Shared opening words for two articles, second."),
        "odd/links.txt": article("Links of every status.", prev="No such article anywhere",
                                 teasers=["Shared opening words for two", "Quoted names must not break", "Absent teaser text here"]),
    }, root=root)


def article_ids(kb_root: Path) -> set[str]:
    return {p.relative_to(kb_root).with_suffix("").as_posix() for p in kb_root.rglob("*.txt")}


# --- export -----------------------------------------------------------------------


def test_export_jsonl_has_one_complete_record_per_article(kb):
    result = run("--kb", kb, "export")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["id"] for r in records} == article_ids(kb)
    assert len(records) == len(article_ids(kb))
    assert f"exported {len(records)} articles" in result.stderr
    for record in records:
        assert list(record)[:10] == ["schema", "id", "title", "path", "body", "prev", "next", "related", "sha256", "words"]
        assert record["schema"] == 1
        assert record["sha256"] == hashlib.sha256((kb / record["path"]).read_bytes()).hexdigest()
        for link in filter(None, [record["prev"], record["next"], *record["related"]]):
            assert {"text", "status", "id", "candidates"} <= set(link)
    seed = next(r for r in records if r["id"] == SEED_ID)
    show = json.loads(run("--kb", kb, "show", SEED_ID, "--json").stdout)
    assert seed["body"] == show["body"] and seed["related"] == show["related"]
    links = next(r for r in records if r["id"] == "odd/links")
    assert links["prev"]["status"] == "missing"
    assert [link["status"] for link in links["related"]] == ["ambiguous", "resolved", "missing"]
    assert links["related"][0]["candidates"] == ["odd/twin-a", "odd/twin-b"]


def test_export_bulk_pairs_actions_with_documents(kb):
    result = run("--kb", kb, "export", "--format", "bulk", "--index-name", "health")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * len(article_ids(kb))
    assert result.stdout.endswith("\n")  # the _bulk API needs the final newline
    for action_line, doc_line in zip(lines[::2], lines[1::2]):
        action, doc = json.loads(action_line), json.loads(doc_line)
        assert action == {"index": {"_index": "health", "_id": doc["id"]}}
        assert doc["schema"] == 1 and "body" in doc


def test_export_to_a_file_replaces_it_only_when_complete(kb, tmp_path):
    out = tmp_path / "out" / "kb.jsonl"
    out.parent.mkdir()
    out.write_text("old\n")
    result = run("--kb", kb, "export", "-o", out)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert f"to {out}" in result.stderr
    assert len(out.read_text().splitlines()) == len(article_ids(kb))
    assert os.listdir(out.parent) == ["kb.jsonl"]


@pytest.mark.parametrize(("failure", "code"), [(RuntimeError("disk on fire"), 1), (KeyboardInterrupt(), 130)])
def test_a_failed_export_leaves_the_old_file_untouched(kb, tmp_path, monkeypatch, failure, code):
    import healthkb.cli.links_cmds as links_cmds

    real = links_cmds._export_records

    def failing(ix, skipped):
        for n, record in enumerate(real(ix, skipped)):
            if n == 3:
                raise failure
            yield record

    monkeypatch.setattr(links_cmds, "_export_records", failing)
    out = tmp_path / "kb.jsonl"
    out.write_text("the previous export\n")
    before = out.stat()
    result = run("--kb", kb, "export", "-o", out)
    assert result.exit_code == code
    assert out.read_text() == "the previous export\n"
    assert out.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".kb.jsonl")) == []


@pytest.mark.parametrize("target", ["missing-folder/kb.jsonl", "."])
def test_export_to_an_impossible_path_is_bad_input(kb, tmp_path, target):
    result = run("--kb", kb, "export", "-o", tmp_path / target)
    assert result.exit_code == 2
    assert "cannot write" in result.stderr
    assert not (tmp_path / "missing-folder").exists()


def test_jsonl_lines_are_produced_lazily():
    def records():
        yield {"id": "first"}
        raise AssertionError("read past the first record")

    lines = jsonl_lines(records())
    assert json.loads(next(lines)) == {"schema": 1, "id": "first"}


def test_write_atomic_keeps_mode_and_writes_through_symlinks(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("x\n")
    real.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert write_atomic(link, iter(["a", "b"])) == 2
    assert link.is_symlink() and real.read_text() == "a\nb\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    fresh = tmp_path / "fresh.txt"
    write_atomic(fresh, [])
    umask = os.umask(0)
    os.umask(umask)
    assert (fresh.read_text(), stat.S_IMODE(fresh.stat().st_mode)) == ("", 0o666 & ~umask)
    with pytest.raises(BadInputError):
        write_atomic(tmp_path, ["a"])


# --- graph ------------------------------------------------------------------------


def graph_json(kb, *extra):
    result = run("--kb", kb, "graph", "--format", "json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_graph_json_nodes_and_edges(kb):
    doc = graph_json(kb)
    assert set(doc) == {"schema", "nodes", "edges"} and doc["schema"] == 1
    assert {n["id"] for n in doc["nodes"]} == article_ids(kb)
    ids = article_ids(kb)
    for edge in doc["edges"]:
        assert set(edge) == {"source", "target", "kind", "status", "text"}
        assert edge["source"] in ids and edge["target"] in ids and edge["status"] != "missing"
    mine = [(e["target"], e["kind"], e["status"]) for e in doc["edges"] if e["source"] == "odd/links"]
    assert mine == [("odd/twin-a", "related", "ambiguous"), ("odd/twin-b", "related", "ambiguous"),
                    ('odd/say "hi"', "related", "resolved")]
    assert {"source": "odd/back\\slash", "target": 'odd/say "hi"', "kind": "next", "status": "resolved",
            "text": 'A "quoted" title \\N with \\'} in doc["edges"]
    seed_edges = [e for e in doc["edges"] if e["source"] == SEED_ID]
    assert len(seed_edges) == 17  # prev, next and 15 teasers, all resolved in the starter KB


def test_graph_missing_edges_only_when_asked(kb):
    doc = graph_json(kb, "--missing")
    missing = [e for e in doc["edges"] if e["status"] == "missing"]
    assert [(e["source"], e["target"], e["kind"]) for e in missing] == [
        ("odd/links", None, "prev"), ("odd/links", None, "related")]


def test_dot_quote_escapes_quotes_and_backslashes():
    assert dot_quote('say "hi"') == '"say \\"hi\\""'
    assert dot_quote("ends with \\") == '"ends with \\\\"'
    assert dot_quote("\\N\x1b[31m") == '"\\\\N"'


def test_dot_lines_share_one_placeholder_per_missing_target():
    edges = [Edge("a", None, "related", "missing", "Gone article te"),
             Edge("b", None, "related", "missing", "gone  article, te"),
             Edge("a", "b", "next", "resolved", "B")]
    text = "\n".join(dot_lines([("a", "A"), ("b", "B")], edges))
    assert text.count('"/missing/1" [label=') == 1
    assert text.count('-> "/missing/1"') == 2 and "/missing/2" not in text
    assert '"a" -> "b" [class="next resolved"' in text


def test_graph_json_lines_are_one_valid_document_even_when_empty():
    assert json.loads("".join(graph_json_lines([], []))) == {"schema": 1, "nodes": [], "edges": []}
    doc = json.loads("\n".join(graph_json_lines([("a", "A")], [Edge("a", None, "prev", "missing", "x")])))
    assert doc["edges"] == [{"source": "a", "target": None, "kind": "prev", "status": "missing", "text": "x"}]


@pytest.mark.skipif(DOT is None, reason="Graphviz `dot` is not installed (apt-get install graphviz)")
@pytest.mark.parametrize("extra", [[], ["--missing"]])
def test_graphviz_accepts_the_dot_output(kb, tmp_path, extra):
    out = tmp_path / "kb.dot"
    result = run("--kb", kb, "graph", "-o", out, *extra)
    assert result.exit_code == 0, result.stderr
    svg = subprocess.run([DOT, "-Tsvg", str(out)], capture_output=True, text=True, timeout=120)
    assert svg.returncode == 0, svg.stderr
    assert "Warning" not in svg.stderr and "Error" not in svg.stderr
    placeholders = 2 if extra else 0  # "No such article anywhere" and "Absent teaser text here"
    assert svg.stdout.count('class="node"') == len(article_ids(kb)) + placeholders
    assert "<title>odd/say &quot;hi&quot;</title>" in svg.stdout
    assert "A &quot;quoted&quot; title \\N with \\" in svg.stdout


# --- the wheel ----------------------------------------------------------------------


@pytest.mark.slow
def test_wheel_ships_the_starter_kb_and_the_index_package(tmp_path):
    """Build from a clean copy of the sources (a stale build/ in the work tree
    can smuggle old files into a wheel), offline: only locally available
    build requirements (PIP_NO_INDEX)."""
    source = tmp_path / "src-copy"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    shutil.copytree(REPO / "kb", source / "kb", ignore=ignore)
    # Offline: no index, and the build uses the setuptools and wheel installed
    # with the test extras instead of fetching its own.
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist")],
        cwd=source, env=env, capture_output=True, text=True, timeout=300,
    )
    wheels = list((tmp_path / "dist").glob("healthkb-*.whl"))
    assert build.returncode == 0 and wheels, build.stdout[-2000:] + build.stderr[-2000:]
    names = zipfile.ZipFile(wheels[0]).namelist()
    starter = sorted(n for n in names if n.startswith("healthkb/starter/") and n.endswith(".txt"))
    expected = sorted(f"healthkb/starter/{p.relative_to(REPO / 'kb').as_posix()}" for p in (REPO / "kb").rglob("*.txt"))
    assert starter == expected and len(starter) == 49
    index_modules = {n.rsplit("/", 1)[1] for n in names if n.startswith("healthkb/index/") and n.endswith(".py")}
    assert index_modules == {p.name for p in (REPO / "src" / "healthkb" / "index").glob("*.py")}
    assert {"healthkb/exporting.py", "healthkb/reader.py", "healthkb/cli/links_cmds.py"} <= set(names)
