"""Tests for the starter knowledge base in kb/ and its footer generator.

The checks on kb/ itself parse the article files independently of
scripts/build_starter_kb.py (so a bug in the generator cannot hide a broken
footer); the generator is exercised on copies of kb/ under tmp_path.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KB = REPO / "kb"
SCRIPT = REPO / "scripts" / "build_starter_kb.py"
CONFIG = REPO / "scripts" / "starter_kb.toml"
TEASER_LENGTH = 49


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_starter_kb", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the module up in sys.modules while building the classes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


builder = _load_builder()


# --- an independent, deliberately simple reader of the starter format -------

def split_article(text: str) -> tuple[str, str | None, str | None, list[str]]:
    """(body without the closing ' |', prev text, next text, teaser texts)."""
    lines = text.rstrip("\n").split("\n")
    close = max(n for n, line in enumerate(lines) if line.endswith(" |"))
    body_lines = lines[: close + 1]
    body_lines[-1] = body_lines[-1][: -len(" |")]
    prev = nxt = None
    teasers = []
    for line in lines[close + 1:]:
        if line.startswith("<<: "):
            prev = line[4:]
        elif line.startswith(">>: "):
            nxt = line[4:]
        else:
            assert line.endswith("..."), f"unexpected footer line {line!r}"
            teasers.append(line[:-3])
    return "\n".join(body_lines), prev, nxt, teasers


def key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def words(text: str) -> list[str]:
    """Lower-case words with punctuation stripped (so "don't" -> "dont")."""
    cleaned = (re.sub(r"[^\w]", "", token.casefold()) for token in text.split())
    return [token for token in cleaned if token]


def eight_word_runs(text: str) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i:i + 8]) for i in range(len(tokens) - 7)}


# The seed article sits in the starter chain (scripts/starter_kb.toml [seed]):
# its neighbours name it by this title, and it names them back.
SEED_CHAIN_TITLE = "Can walking backwards relieve lumbar disc herniation?"
SEED_ID = "000_ec7fe29246c6fc0e"


@pytest.fixture(scope="module")
def starter() -> dict[str, tuple[str, str | None, str | None, list[str]]]:
    articles = {}
    for path in sorted(KB.rglob("*.txt")):
        article_id = path.relative_to(KB).with_suffix("").as_posix()
        articles[article_id] = split_article(path.read_text(encoding="utf-8"))
    return articles


def seed_parts(seed_path: Path) -> tuple[str, list[str], list[str]]:
    """Seed body, nav texts and teaser texts (seed_path comes from conftest)."""
    lines = seed_path.read_text(encoding="utf-8-sig").split("\n")
    close = max(n for n, line in enumerate(lines) if line.endswith(" |"))
    footer = lines[close + 1:]
    nav = [line[4:] for line in footer if line.startswith(("<<: ", ">>: "))]
    teasers = [line[:-3] for line in footer if line.endswith("...")]
    return "\n".join(lines[: close + 1]), nav, teasers


# --- (a) the footers in kb/ are exactly what the generator produces ---------

def test_build_script_check_passes_on_kb():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _copy_kb(tmp_path: Path) -> tuple[Path, Path]:
    kb = tmp_path / "starter"
    shutil.copytree(KB, kb, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    config = tmp_path / "starter_kb.toml"
    shutil.copy(CONFIG, config)
    return kb, config


def _run(kb: Path, config: Path, seed: Path, *extra: str) -> int:
    return builder.main(["--kb", str(kb), "--config", str(config), "--seed", str(seed), *extra])


def test_editing_an_opening_is_detected_and_rebuilt_idempotently(tmp_path, seed_path):
    kb, config = _copy_kb(tmp_path)
    seed_teasers = seed_parts(seed_path)[2]
    specs = builder.load_specs(config)
    # Pick an article that no seed teaser depends on, so only its teasers move.
    target = next(
        s for s in specs
        if not any((kb / f"{s.id}.txt").read_text().startswith(t) for t in seed_teasers)
    )
    path = kb / f"{target.id}.txt"
    path.write_text("Rewritten opening for this test, long enough to count. " + path.read_text())
    assert _run(kb, config, seed_path, "--check") == 1
    assert _run(kb, config, seed_path) == 0
    assert _run(kb, config, seed_path, "--check") == 0
    before = {p: p.read_text() for p in kb.rglob("*.txt")}
    assert _run(kb, config, seed_path) == 0
    assert {p: p.read_text() for p in kb.rglob("*.txt")} == before
    pointing = [s for s in specs if target.id in s.related]
    assert pointing, "the chosen article should be teased by at least one other"
    for spec in pointing:
        teasers = split_article((kb / f"{spec.id}.txt").read_text())[3]
        assert "Rewritten opening for this test, long enough to c" in teasers


@pytest.mark.parametrize(
    "breakage",
    ["title_not_slug", "shared_opening", "text_after_bar", "unlisted_file"],
)
def test_generator_refuses_inconsistent_input(tmp_path, seed_path, breakage, capsys):
    kb, config = _copy_kb(tmp_path)
    specs = builder.load_specs(config)
    first, second = kb / f"{specs[0].id}.txt", kb / f"{specs[1].id}.txt"
    if breakage == "title_not_slug":
        config.write_text(config.read_text().replace(f'title = "{specs[0].title}"', 'title = "Something else"'))
    elif breakage == "shared_opening":
        opening = first.read_text()[:TEASER_LENGTH]
        second.write_text(opening + second.read_text())
    elif breakage == "text_after_bar":
        first.write_text(first.read_text() + "A stray paragraph typed below the footer.\n")
    else:
        (kb / "back" / "stray-article.txt").write_text(first.read_text())
    before = {p: p.read_text() for p in kb.rglob("*.txt")}
    assert _run(kb, config, seed_path) == 2
    assert {p: p.read_text() for p in kb.rglob("*.txt")} == before
    assert "problem" in capsys.readouterr().err


# --- (b) size and format of the articles -------------------------------------

def test_at_least_forty_articles_of_150_to_600_words(starter):
    assert len(starter) >= 40
    counts = {article_id: len(body.split()) for article_id, (body, *_rest) in starter.items()}
    wrong = {a: n for a, n in counts.items() if not 150 <= n <= 600}
    assert not wrong


def test_bodies_follow_the_house_format(starter):
    for article_id, (body, *_rest) in starter.items():
        lines = body.split("\n")
        assert len(lines[0]) >= 60, article_id
        assert all(lines[0::2]) and not any(lines[1::2]) and len(lines) % 2 == 1, article_id
        for line in lines:
            assert not line.startswith(("<<:", ">>:")), article_id
            assert not line.endswith(("...", "\u2026")), article_id
        raw = (KB / f"{article_id}.txt").read_bytes()
        assert b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf"), article_id


def test_required_articles_exist(starter):
    titles = {key(article_id.rsplit("/", 1)[-1]) for article_id in starter}
    assert key("Can I drink red wine while eating hairy crabs?") in titles
    assert key("Do you have to lie flat if you have hip effusion?") in titles
    lumbar = [a for a, (body, *_rest) in starter.items() if "lumbar" in body.casefold()]
    assert len(lumbar) >= 2


# --- (c) originality against the seed -----------------------------------------

def test_no_eight_word_run_of_the_seed_appears_in_any_article(starter, seed_path):
    seed_runs = eight_word_runs(seed_parts(seed_path)[0])
    assert seed_runs
    for article_id, (body, *_rest) in starter.items():
        shared = seed_runs & eight_word_runs(body)
        assert not shared, f"{article_id} repeats seed text: {sorted(shared)[:3]}"


# --- (d) the seed's teasers each open exactly one starter article ------------

def test_each_seed_teaser_opens_exactly_one_starter_article(starter, seed_path, seed_text):
    teasers = seed_parts(seed_path)[2]
    assert len(teasers) == seed_text.count("...\n") + seed_text.endswith("...")
    for teaser in teasers:
        assert len(teaser) == TEASER_LENGTH
        openers = [a for a, (body, *_rest) in starter.items() if body.startswith(teaser)]
        assert len(openers) == 1, (teaser, openers)


def test_seed_nav_titles_name_starter_articles(starter, seed_path):
    stems = {key(article_id.rsplit("/", 1)[-1]) for article_id in starter}
    nav = seed_parts(seed_path)[1]
    assert nav
    assert all(key(text) in stems for text in nav)


# --- (e) every footer link resolves inside the starter KB --------------------

def test_every_teaser_and_nav_link_resolves_to_one_article(starter):
    by_title = {key(article_id.rsplit("/", 1)[-1]): article_id for article_id in starter}
    by_title[key(SEED_CHAIN_TITLE)] = SEED_ID  # resolves once the README adds the seed
    body_keys = {article_id: key(body) for article_id, (body, *_rest) in starter.items()}
    for article_id, (_body, prev, nxt, teasers) in starter.items():
        assert 5 <= len(teasers) <= 17, article_id
        for text in (prev, nxt):
            assert text is None or key(text) in by_title, (article_id, text)
        for teaser in teasers:
            targets = [a for a, k in body_keys.items() if k.startswith(key(teaser))]
            assert len(targets) == 1 and targets[0] != article_id, (article_id, teaser, targets)


def test_nav_lines_form_one_chain_through_every_article_and_the_seed(starter, seed_path):
    with_seed = {**starter, SEED_ID: split_article(seed_path.read_text(encoding="utf-8-sig").replace("\r\n", "\n"))}
    by_title = {key(article_id.rsplit("/", 1)[-1]): article_id for article_id in starter}
    by_title[key(SEED_CHAIN_TITLE)] = SEED_ID
    nexts = {a: by_title[key(n)] for a, (_b, _p, n, _t) in with_seed.items() if n is not None}
    prevs = {a: by_title[key(p)] for a, (_b, p, _n, _t) in with_seed.items() if p is not None}
    starter = with_seed
    heads = [a for a in starter if a not in prevs]
    assert len(heads) == 1
    order, current = [heads[0]], heads[0]
    while current in nexts:
        current = nexts[current]
        assert prevs[current] == order[-1], current
        order.append(current)
    assert sorted(order) == sorted(starter)
