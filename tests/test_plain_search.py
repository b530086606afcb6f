"""A plain search (`healthkb search WORDS`, no option) runs without click
(cli/searching.py): the same hits, messages and exit codes as the same
search through click, and anything else still goes through click."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from clihelp import article, run_cli
from healthkb.cli.commands import plain_search_args

ARTICLES = {
    "back/lumbar.txt": article("Lumbar pain often eases with gentle walking and stretching."),
    "back/disc.txt": article("A herniated disc can press on a nerve and cause lumbar pain."),
    "sleep/naps.txt": article("Short naps help some people; long ones can spoil the night."),
    # More lumbar articles than one page holds: the default page size shows.
    **{f"back/lumbar-{n}.txt": article(f"Lumbar exercise number {n} strengthens the lower back.") for n in range(12)},
}


@pytest.mark.parametrize(("args", "plain"), [
    (["search", "lumbar"], (None, ["lumbar"])),
    (["search", "how", "do", "naps", "help?"], (None, ["how", "do", "naps", "help?"])),
    (["search", "title:lumbar OR naps"], (None, ["title:lumbar OR naps"])),
    (["--kb", "my kb", "search", "lumbar"], ("my kb", ["lumbar"])),
    (["--kb=mykb", "search", "lumbar", "pain"], ("mykb", ["lumbar", "pain"])),
    (["search"], None),  # no words: click says what is missing
    (["search", "lumbar", "-n", "3"], None),
    (["search", "--json", "lumbar"], None),
    (["search", "lumbar", "--help"], None),
    (["search", "--", "-5"], None),
    (["search", "lumbar", "--kb", "x"], None),
    (["--kb", "search", "lumbar"], None),  # "search" is the folder; "lumbar" no command
    (["--kb"], None),
    (["--no-pager", "search", "lumbar"], None),
    (["show", "lumbar"], None),
    ([], None),
])
def test_only_search_and_words_is_a_plain_search(args, plain):
    assert plain_search_args(args) == plain


def _without_timing(text: str) -> str:
    return re.sub(r"\(\d+ ms\)", "(N ms)", text)


@pytest.mark.parametrize("words", [
    ["lumbar"], ["lumbar", "pain"], ["how do naps help?"], ["title:lumbar OR naps"], ["zzyzx"], ["lumbr"], ["the"],
])
def test_a_plain_search_answers_as_the_click_command_does(make_kb, words):
    make_kb(ARTICLES)
    plain = run_cli("search", *words)
    # The same search with its default limit spelled out goes through click.
    through_click = run_cli("search", *words, "--limit", "10")
    assert plain.code == through_click.code
    assert plain.stdout == through_click.stdout
    assert _without_timing(plain.stderr) == _without_timing(through_click.stderr)


def test_a_plain_search_takes_kb_as_the_click_command_does(make_kb, monkeypatch):
    root = make_kb(ARTICLES)
    monkeypatch.delenv("HEALTHKB_KB")  # the folder comes from --kb alone
    plain = run_cli("--kb", str(root), "search", "lumbar")
    through_click = run_cli("--kb", str(root), "search", "lumbar", "--page", "1")
    assert plain.code == through_click.code == 0 and "back/lumbar" in plain.stdout
    assert plain.stdout == through_click.stdout


def test_a_plain_search_of_an_empty_kb_fails_as_the_click_command_does(make_kb):
    make_kb({})
    plain, through_click = run_cli("search", "lumbar"), run_cli("search", "lumbar", "--page", "1")
    assert plain.code == through_click.code != 0
    assert plain.stderr == through_click.stderr and "no articles yet" in plain.stderr


PROBE = """
import atexit, json, sys
from healthkb.cli import main
atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "click")), file=sys.stderr))
main(sys.argv[1:])
"""


def _click_modules(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def test_click_loads_only_when_the_command_line_needs_parsing(make_kb):
    make_kb(ARTICLES)
    plain, loaded = _click_modules("search", "lumbar")
    assert plain.returncode == 0 and "back/lumbar" in plain.stdout and loaded == []
    parsed, loaded = _click_modules("search", "lumbar", "--limit", "1")
    assert parsed.returncode == 0 and "click" in loaded
    assert parsed.stdout.count("back/") == 1
