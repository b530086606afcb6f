"""`healthkb links` and `healthkb check` from the command line: the issue-5
acceptance case, bad input, JSON shapes and exit codes (SPEC §2, §4).

Every KB is written to tmp_path as real files and indexed by the real CLI.
Commands run through ``healthkb.cli.main`` (via CliRunner), so errors map to
exit codes exactly as they do for users.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest


from clihelp import article, invoke

REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "kb"
SEED_ID = "000_ec7fe29246c6fc0e"
PREV_ID = "food/can-i-drink-red-wine-while-eating-hairy-crabs"
NEXT_ID = "joints/hip-effusion"
SEED_TITLE = "Can walking backwards relieve lumbar disc herniation?"
LINK_KEYS = {"text", "status", "id", "candidates"}
# The seed as the conftest fixture finds it (shared copy, else the bundled one),
# for module-scoped KBs that cannot use the function-scoped fixture.
_SHARED_SEED = REPO.parent / "shared" / "seeds" / f"{SEED_ID}.txt"
SEED_FILE = _SHARED_SEED if _SHARED_SEED.is_file() else REPO / "tests" / "data" / f"{SEED_ID}.txt"



def run(*args: str, input: str | None = None):
    return invoke(*args, input=input)


def run_json(*args: str):
    result = run(*args, "--json")
    return result, json.loads(result.stdout)




def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def seed_footer(seed_text: str) -> tuple[str, str, list[str]]:
    """(<<: text, >>: text, teasers) read straight from the seed file."""
    lines = seed_text.replace("\r\n", "\n").rstrip("\n").split("\n")
    prev = next(line[4:] for line in lines if line.startswith("<<: "))
    nxt = next(line[4:] for line in lines if line.startswith(">>: "))
    teasers = [line[:-3] for line in lines if line.endswith("...")]
    return prev, nxt, teasers


# --- the acceptance case of issue 5 --------------------------------------------------

RESOLVED_TEASERS = {1: "cancer/npc", 3: "colds/fever-at-home", 8: "skin/hair-loss"}
SHARED_TEASER = 4
TWINS = ("sleep/comfort-first", "sleep/comfort-second")


@pytest.fixture(scope="module")
def acceptance_kb(tmp_path_factory) -> Path:
    seed_file = SEED_FILE
    seed_text = seed_file.read_text(encoding="utf-8")
    prev, nxt, teasers = seed_footer(seed_text)
    root = tmp_path_factory.mktemp("acceptance")
    shutil.copyfile(seed_file, root / f"{SEED_ID}.txt")
    assert PREV_ID.endswith(prev.lower().replace(" ", "-").rstrip("?"))  # title from the file name
    files = {
        # The seed's "<<:" names this article by its file name; its ">>:" names the
        # seed by a title nothing else has, so the seed takes that title.
        f"{PREV_ID}.txt": article("Crabs are cold food and wine is not for everyone.", nxt=SEED_TITLE),
        f"{NEXT_ID}.txt": article("Rest helps, but lying flat all day is not needed.", prev=SEED_TITLE, heading=nxt),
        "cancer/npc.txt": article(teasers[0] + "t grows in the upper throat behind the nose."),
        "colds/fever-at-home.txt": article(teasers[2] + "r every winter, and most pass on their own."),
        "skin/hair-loss.txt": article(teasers[7] + " notice at some point in their life."),
        # Two articles that open with the same 49 characters as teaser 4.
        f"{TWINS[0]}.txt": article(teasers[3] + "table position comes first."),
        f"{TWINS[1]}.txt": article(teasers[3] + "ting thought is that it passes."),
    }
    return write(root, files)


def test_acceptance_links_json(acceptance_kb, seed_text):
    _prev, _next, teasers = seed_footer(seed_text)
    result, doc = run_json("--kb", acceptance_kb, "links", SEED_ID)
    assert result.exit_code == 0, result.stderr
    assert set(doc) >= {"schema", "id", "title", "prev", "next", "related", "backlinks"}
    assert (doc["schema"], doc["id"]) == (1, SEED_ID)
    assert doc["title"] == SEED_TITLE  # reciprocal inference from the neighbours' nav text
    assert (doc["prev"]["status"], doc["prev"]["id"]) == ("resolved", PREV_ID)
    assert (doc["next"]["status"], doc["next"]["id"]) == ("resolved", NEXT_ID)
    related = doc["related"]
    assert len(related) == len(teasers)
    for number, link in enumerate(related, 1):
        assert set(link) >= LINK_KEYS
        assert link["text"] == teasers[number - 1]
        if number in RESOLVED_TEASERS:
            assert (link["status"], link["id"], link["candidates"]) == ("resolved", RESOLVED_TEASERS[number], [RESOLVED_TEASERS[number]])
        elif number == SHARED_TEASER:
            assert (link["status"], link["id"], link["candidates"]) == ("ambiguous", None, list(TWINS))
        else:
            assert (link["status"], link["id"], link["candidates"]) == ("missing", None, [])
    assert doc["backlinks"] == [
        {"id": PREV_ID, "title": "Can I drink red wine while eating hairy crabs?", "kind": "next"},
        {"id": NEXT_ID, "title": "Do you have to lie flat if you have hip effusion?", "kind": "prev"},
    ]


def test_acceptance_neighbours_backlinks_include_the_seed(acceptance_kb):
    for neighbour, kind in ((NEXT_ID, "next"), (PREV_ID, "prev")):
        result, doc = run_json("--kb", acceptance_kb, "links", neighbour)
        assert result.exit_code == 0
        assert {"id": SEED_ID, "title": SEED_TITLE, "kind": kind} in doc["backlinks"]
    _result, doc = run_json("--kb", acceptance_kb, "links", TWINS[0])
    assert doc["backlinks"] == []  # an ambiguous link is not a backlink
    _result, doc = run_json("--kb", acceptance_kb, "links", "cancer/npc")
    assert doc["backlinks"] == [{"id": SEED_ID, "title": SEED_TITLE, "kind": "related"}]
    assert (doc["prev"], doc["next"], doc["related"]) == (None, None, [])


def test_acceptance_check_reports_exactly_the_problems(acceptance_kb, seed_text):
    _prev, _next, teasers = seed_footer(seed_text)
    result, doc = run_json("--kb", acceptance_kb, "check")
    assert result.exit_code == 1
    assert set(doc) == {"schema", "problems"}
    found = set()
    for problem in doc["problems"]:
        assert set(problem) == {"kind", "id", "detail"}
        number = int(re.match(r"teaser (\d+) ", problem["detail"]).group(1))
        found.add((problem["kind"], problem["id"], number))
    unresolved = set(range(1, len(teasers) + 1)) - set(RESOLVED_TEASERS) - {SHARED_TEASER}
    expected = {("missing_related", SEED_ID, n) for n in unresolved} | {("ambiguous_link", SEED_ID, SHARED_TEASER)}
    assert found == expected
    assert len(doc["problems"]) == len(expected)
    ambiguous = next(p for p in doc["problems"] if p["kind"] == "ambiguous_link")
    assert all(twin in ambiguous["detail"] for twin in TWINS)


def test_acceptance_links_table_at_80_columns(acceptance_kb, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = run("--kb", acceptance_kb, "links", SEED_ID)
    assert result.exit_code == 0
    lines = result.stdout.split("\n")
    assert lines[0] == SEED_TITLE
    assert lines[1].startswith(f"{SEED_ID} · ")
    assert max(map(len, lines)) <= 80
    # Each id appears whole, on a line of its own under its link.
    for target in (PREV_ID, NEXT_ID, *TWINS, *RESOLVED_TEASERS.values()):
        assert any(line.strip() in (f"→ {target}", f"or {target}") for line in lines), target
    assert "Linked from 2 articles:" in result.stdout


def test_links_table_puts_targets_beside_text_when_wide(acceptance_kb, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = run("--kb", acceptance_kb, "links", NEXT_ID)
    rows = [line.split() for line in result.stdout.split("\n")]
    assert ["prev", "resolved", *SEED_TITLE.split(), SEED_ID] in rows
    assert [SEED_ID, "next", *SEED_TITLE.split()] in rows  # id, kind, title of the backlink


def test_check_human_output_and_summary(acceptance_kb):
    result = run("--kb", acceptance_kb, "check")
    assert result.exit_code == 1
    header = result.stdout.split("\n")[0].split()
    assert header == ["kind", "article", "detail"]
    lines = result.stdout.split("\n")
    assert max(map(len, lines)) <= 80  # piped: laid out for 80 columns
    starts = [line for line in lines[2:] if line[:1].strip()]
    assert len(starts) == 12  # one row per problem, its detail wrapped under it
    assert result.stderr.strip().split("\n")[-1] == "12 problems (11 missing_related, 1 ambiguous_link)"


# --- the starter KB -------------------------------------------------------------------


def copy_starter(dest: Path) -> Path:
    for source in STARTER.rglob("*.txt"):
        target = dest / source.relative_to(STARTER)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return dest


STARTER_SEED_NEIGHBOURS = {
    ("missing_next", "food/can-i-drink-red-wine-while-eating-hairy-crabs"),
    ("missing_prev", "joints/do-you-have-to-lie-flat-if-you-have-hip-effusion"),
}


def test_starter_kb_lacks_only_the_seed_article(tmp_path):
    """The starter KB's only problems are the two nav links that name the
    seed article, which the README's `add` brings in."""
    kb = copy_starter(tmp_path / "kb")
    result, doc = run_json("--kb", kb, "check")
    assert result.exit_code == 1
    assert {(p["kind"], p["id"]) for p in doc["problems"]} == STARTER_SEED_NEIGHBOURS
    assert all("Can walking backwards relieve lumbar disc herniation?" in p["detail"] for p in doc["problems"])


def test_adding_the_seed_to_the_starter_kb_resolves_all_its_links(tmp_path, seed_path):
    kb = copy_starter(tmp_path / "kb")
    shutil.copyfile(seed_path, kb / f"{SEED_ID}.txt")
    result, doc = run_json("--kb", kb, "links", SEED_ID)
    assert result.exit_code == 0
    links = [doc["prev"], doc["next"], *doc["related"]]
    assert [link["status"] for link in links] == ["resolved"] * len(links)
    result, doc = run_json("--kb", kb, "check")
    # The starter's neighbours name the seed back: every nav link is two-way.
    assert (result.exit_code, doc["problems"]) == (0, [])
    result = run("--kb", kb, "check")
    assert result.stderr.strip().split("\n")[-1] == "no problems in 50 articles"
    result, doc = run_json("--kb", kb, "show", SEED_ID)
    assert doc["title"] == "Can walking backwards relieve lumbar disc herniation?"  # from its neighbours


# --- bad input ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_kb(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    return write(root, {
        "self/loop.txt": article("An article that names itself as next.", nxt="Looping article", heading="Looping article"),
        "cycle/a.txt": article("Alpha starts the ring of three.", "Cycle C", "Cycle B", heading="Cycle A"),
        "cycle/b.txt": article("Bravo is in the middle of the ring.", "Cycle A", "Cycle C", heading="Cycle B"),
        "cycle/c.txt": article("Charlie closes the ring again.", "Cycle B", "Cycle A", heading="Cycle C"),
        "dup/one.txt": article("The first of two articles with one title.", heading="Twin title"),
        "dup/two.txt": article("The second of two articles with one title.", heading="Twin title"),
        "short/teaser.txt": article("An article with a tiny teaser.", teasers=["Tiny", "Insomnia \u2014 a  nightly   battle: \u201cwhat he"]),
        "uni/target.txt": article("Insomnia - a nightly battle: what helps, and what does not."),
        "esc/nav.txt": article("Escapes are stripped before display.", "\x1b[31mRed\x1b[0m herring\x1b]0;owned\x07",
                               "Cycle\x9b2J A", ["\x1b[1mBold\x1b[0m teaser text that"], heading="Escape \x1b[5mtest"),
    })


@pytest.fixture(scope="module")
def bad_problems(bad_kb):
    result, doc = run_json("--kb", bad_kb, "check")
    assert result.exit_code == 1
    problems: dict[str, set[str]] = {}
    for problem in doc["problems"]:
        problems.setdefault(problem["id"], set()).add(problem["kind"])
    return problems


def test_self_link_resolves_to_itself_and_is_reported(bad_kb, bad_problems):
    _result, doc = run_json("--kb", bad_kb, "links", "self/loop")
    assert (doc["next"]["status"], doc["next"]["id"]) == ("resolved", "self/loop")
    assert doc["backlinks"] == []  # a self link is not a backlink
    assert bad_problems["self/loop"] == {"self_link"}


def test_prev_next_cycle_resolves_and_has_no_problems(bad_kb, bad_problems):
    for name, (before, after) in {"a": ("c", "b"), "b": ("a", "c"), "c": ("b", "a")}.items():
        _result, doc = run_json("--kb", bad_kb, "links", f"cycle/{name}")
        assert (doc["prev"]["id"], doc["next"]["id"]) == (f"cycle/{before}", f"cycle/{after}")
        assert f"cycle/{name}" not in bad_problems
    result = run("--kb", bad_kb, "graph", "--format", "json")
    assert result.exit_code == 0


def test_duplicate_titles_are_reported_and_make_the_title_ambiguous(bad_kb, bad_problems):
    assert bad_problems["dup/one"] == bad_problems["dup/two"] == {"duplicate_title"}
    result = run("--kb", bad_kb, "links", "Twin title")
    assert result.exit_code == 2
    assert "dup/one" in result.stderr and "dup/two" in result.stderr
    assert result.stdout == ""


def test_short_teaser_is_missing_and_weak_while_unicode_spacing_still_matches(bad_kb, bad_problems):
    _result, doc = run_json("--kb", bad_kb, "links", "short/teaser")
    tiny, fancy = doc["related"]
    assert (tiny["text"], tiny["status"]) == ("Tiny", "missing")
    assert (fancy["status"], fancy["id"]) == ("resolved", "uni/target")
    assert bad_problems["short/teaser"] == {"weak_teaser"}


def test_nav_text_with_escape_sequences_is_cleaned_and_matched(bad_kb, bad_problems):
    _result, doc = run_json("--kb", bad_kb, "links", "esc/nav")
    assert doc["title"] == "Escape test"
    assert (doc["prev"]["text"], doc["prev"]["status"]) == ("Red herring", "missing")
    assert (doc["next"]["text"], doc["next"]["id"]) == ("Cycle A", "cycle/a")
    assert bad_problems["esc/nav"] == {"missing_prev", "missing_related", "one_way_nav"}


NO_ESCAPE_COMMANDS = [
    ["links", "esc/nav"], ["links", "esc/nav", "--json"], ["links", "cycle/a"],
    ["check"], ["check", "--json"],
    ["export"], ["export", "--format", "bulk"],
    ["graph"], ["graph", "--missing"], ["graph", "--format", "json", "--missing"],
    ["show", "esc/nav", "--no-pager"], ["show", "esc/nav", "--json"], ["list"],
]


@pytest.mark.parametrize("command", NO_ESCAPE_COMMANDS, ids=" ".join)
def test_no_escape_byte_reaches_the_output(bad_kb, command):
    result = run("--kb", bad_kb, *command)
    assert result.exit_code in (0, 1), result.stderr
    for stream in (result.stdout_bytes, result.stderr_bytes):
        assert b"\x1b" not in stream and b"\x07" not in stream
        assert "\x9b".encode() not in stream  # the 8-bit CSI, as UTF-8
    assert "owned" not in result.stdout


@pytest.mark.parametrize("command", ["links", "read"])
def test_a_path_outside_the_kb_is_just_an_unknown_ref(bad_kb, command):
    result = run("--kb", bad_kb, command, "../../etc/passwd", input="q\n")
    assert result.exit_code == 1
    assert "no article matches '../../etc/passwd'" in result.stderr
    assert "root:" not in result.stdout


# --- exit codes and help -------------------------------------------------------------------


def test_unknown_and_ambiguous_refs(bad_kb):
    result = run("--kb", bad_kb, "links", "nothing-like-this")
    assert (result.exit_code, result.stdout) == (1, "")
    result = run("--kb", bad_kb, "links", "cycle/")
    assert result.exit_code == 2
    assert all(f"cycle/{n}" in result.stderr for n in "abc")


@pytest.mark.parametrize("command", [["links", "x"], ["check"], ["export"], ["graph"], ["read", "x"]])
def test_a_missing_kb_exits_3(tmp_path, command):
    result = run("--kb", tmp_path / "nonexistent", *command, input="q\n")
    assert result.exit_code == 3
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("command", ["links", "check", "export", "graph", "read"])
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: healthkb {command}")
    assert "Examples:" in result.stdout
    assert f"healthkb {command}" in result.stdout.split("Examples:")[1]


def test_bad_option_is_a_usage_error(acceptance_kb):
    result = run("--kb", acceptance_kb, "graph", "--format", "png")
    assert result.exit_code == 2


def test_check_wraps_long_details_on_continuation_rows():
    from healthkb.checks import Problem
    from healthkb.cli.links_cmds import _problem_table

    problems = [Problem("missing_next", "a/b", "word " * 30), Problem("skipped", "x.txt", "binary file")]
    for width in (60, 80, 120):
        lines = _problem_table(problems, width).split("\n")
        assert max(map(len, lines)) <= width
        assert lines[0].split() == ["kind", "article", "detail"]
        rows = [line.split(None, 2) if line[:1].strip() else ["", "", line.strip()] for line in lines[2:]]
        assert [r[0] for r in rows] == ["missing_next"] + [""] * (len(rows) - 2) + ["skipped"]
        assert " ".join(r[2] for r in rows[:-1]) == ("word " * 30).strip()
    # Too narrow for a detail column: the detail goes under the id.
    lines = _problem_table([Problem("missing_related", "folder/" + "long-name-" * 4, "word " * 10)], 40).split("\n")
    assert max(map(len, lines)) <= 40 and lines[0].split() == ["kind", "article", "and", "detail"]
    assert " ".join(line.strip() for line in lines[3:]) == ("word " * 10).strip()
