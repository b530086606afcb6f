"""The benchmark scripts: make_corpus writes the seed format, deterministically;
bench.py at least starts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
COUNT = 30


def make_corpus(directory: Path, *extra: str) -> dict[str, bytes]:
    subprocess.run([sys.executable, str(SCRIPTS / "make_corpus.py"), str(COUNT), str(directory), *extra],
                   check=True, capture_output=True, timeout=60)
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*.txt"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, bytes]:
    return make_corpus(tmp_path_factory.mktemp("corpus"), "--seed", "7")


def parts(data: bytes) -> tuple[str, str | None, str | None, list[str]]:
    """(body, prev, next, teasers) read the way SPEC §1 describes the layout."""
    lines = data.decode("utf-8").split("\n")
    body, footer = lines[0], lines[1:]
    prev = footer.pop(0)[4:] if footer and footer[0].startswith("<<: ") else None
    nxt = footer.pop(0)[4:] if footer and footer[0].startswith(">>: ") else None
    return body, prev, nxt, footer


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def test_writes_count_files_in_topic_folders_with_slug_names(corpus):
    assert len(corpus) == COUNT
    folders = {name.split("/")[0] for name in corpus}
    assert 3 <= len(folders) <= 10
    for name in corpus:
        assert re.fullmatch(r"[a-z-]+/[a-z0-9]+(-[a-z0-9]+)*\.txt", name), name


def test_bodies_are_one_line_of_sentences_closed_by_a_bar(corpus):
    for name, data in corpus.items():
        body, _, _, _ = parts(data)
        assert body.endswith(" |"), name
        assert "\r" not in body and "|" not in body[:-2]
        words = body[:-2].split()
        assert 250 <= len(words) <= 1700, (name, len(words))
        assert body[0].isupper() and body[-3] == "."
        assert body.count(". ") >= 10  # many sentences, not one run-on line


def test_same_seed_same_bytes_other_seed_other_corpus(tmp_path, corpus):
    assert make_corpus(tmp_path / "again", "--seed", "7") == corpus
    assert make_corpus(tmp_path / "other", "--seed", "8") != corpus


def test_chain_visits_every_article_once_with_consistent_neighbours(corpus):
    by_stem = {name.rsplit("/", 1)[1][:-4]: name for name in corpus}
    footers = {name: parts(data) for name, data in corpus.items()}
    heads = [n for n, (_, prev, _, _) in footers.items() if prev is None]
    tails = [n for n, (_, _, nxt, _) in footers.items() if nxt is None]
    assert len(heads) == 1 and len(tails) == 1 and heads != tails
    seen, current = [], heads[0]
    while current is not None:
        seen.append(current)
        nxt = footers[current][2]
        if nxt is None:
            break
        following = by_stem[slug(nxt)]  # the nav text names the next file
        assert slug(footers[following][1]) == current.rsplit("/", 1)[1][:-4]  # and it points back
        current = following
    assert sorted(seen) == sorted(corpus)


def test_seventeen_teasers_each_mostly_resolving_a_few_missing(corpus):
    bodies = {name: parts(data)[0] for name, data in corpus.items()}
    resolved = missing = 0
    for name, (_, _, _, teasers) in ((n, parts(d)) for n, d in corpus.items()):
        assert len(teasers) == 17, name
        for line in teasers:
            assert line.endswith("...") and len(line) == 49 + 3
            targets = [other for other, body in bodies.items() if body.startswith(line[:-3])]
            assert name not in targets  # never a teaser of itself
            assert len(targets) <= 1
            resolved += len(targets)
            missing += not targets
    assert missing >= 1
    assert missing <= 0.1 * (resolved + missing)


def test_bench_help_runs():
    result = subprocess.run([sys.executable, str(SCRIPTS / "bench.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-800:]
    assert "--sizes" in result.stdout and "--json" in result.stdout


def test_a_medquad_shaped_corpus_repeats_boilerplate_openings(tmp_path):
    files = make_corpus(tmp_path / "medquad", "--seed", "7", "--shape", "medquad")
    openings = [data.decode("utf-8").split(". ", 1)[0] for data in files.values()]
    share = sum(o.startswith(("These resources", "What are the signs", "Summary:")) for o in openings) / len(openings)
    assert 0.15 <= share <= 0.5, share
    teasers = [line for data in files.values() for line in data.decode("utf-8").splitlines() if line.endswith("...")]
    top = max(teasers.count(t) for t in set(teasers))
    assert top >= len(files)  # one boilerplate teaser quoted over and over
    assert make_corpus(tmp_path / "plain", "--seed", "7") != files
