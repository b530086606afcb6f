"""The interactive reader: its logic with a fake library, `healthkb read` over
a pipe (CliRunner input), and once in a real terminal (pexpect)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from healthkb.cli import main as healthkb_main
from healthkb.errors import NotFoundError
from healthkb.reader import HELP, Page, Reader

from clihelp import article

RULE = "─" * 20  # the start of the rule above every article the CLI shows


class EntryPoint:
    """Lets CliRunner run ``healthkb.cli.main``, so errors map to the real exit codes."""

    name = "healthkb"

    def main(self, args=(), prog_name=None, **_extra):
        healthkb_main(list(args))


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(EntryPoint(), list(args), input=input)


# --- the Reader with a fake library ----------------------------------------------


def link(status, text, *ids):
    return {"text": text, "status": status, "id": ids[0] if status == "resolved" else None, "candidates": list(ids)}


class FakeLibrary:
    def __init__(self, pages, hits=(), refs=None):
        self.pages = {p.id: p for p in pages}
        self.hits = list(hits)
        self.refs = refs or {}
        self.opened = []

    def page(self, article_id):
        self.opened.append(article_id)
        return self.pages.get(article_id)

    def titles(self, ids):
        return {i: self.pages[i].title for i in ids if i in self.pages}

    def search(self, text, limit):
        return [h for h in self.hits if text.lower() in h[1].lower()][:limit], []

    def resolve(self, ref):
        if ref not in self.refs:
            raise NotFoundError(f"no article matches '{ref}'\n  \x1b[31mred\x1b[0m")
        return self.refs[ref]


def page(article_id, title, prev=None, nxt=None, related=()):
    return Page(article_id, title, [f"== {title} =="], prev, nxt, tuple(related))


@pytest.fixture
def library():
    pages = [
        page("a", "Alpha", nxt=link("resolved", "Beta", "b"), related=[
            link("resolved", "Gamma opens", "c"),
            link("missing", "Nowhere to be found"),
            link("ambiguous", "Twin opening", "t1", "t2"),
            link("resolved", "Alpha itself", "a"),
        ]),
        page("b", "Beta", prev=link("resolved", "Alpha", "a"), nxt=link("missing", "Lost article")),
        page("c", "Gamma", prev=link("ambiguous", "Twin", "t1", "t2")),
        page("t1", "Twin one"),
        page("t2", "Twin two"),
    ]
    hits = [("a", "Alpha"), ("c", "Gamma"), ("t1", "Twin one"), ("t2", "Twin two")]
    return FakeLibrary(pages, hits, refs={"twin one": "t1", "gone": "vanished"})


def session(library, commands, start="a"):
    """Run a reader over ``commands``; return (reader, list of written chunks)."""
    lines = iter(commands)
    written = []
    reader = Reader(library, lambda: next(lines, None), written.append)
    reader.run(library.pages[start])
    return reader, written


def titles_shown(written):
    return [chunk.split("\n")[0] for chunk in written if chunk.startswith("== ")]


def test_start_page_then_keys_and_quit(library):
    reader, written = session(library, ["q", "n"])
    assert written == ["== Alpha ==\n\nn next · 1-4 related · b back · /text search · ? help · q quit"]
    assert reader.current.id == "a"


def test_end_of_input_quits_like_q(library):
    reader, written = session(library, ["n"])
    assert titles_shown(written) == ["== Alpha ==", "== Beta =="]


def test_keys_line_lists_only_the_links_the_article_has(library):
    _reader, written = session(library, ["n", "q"])
    assert written[-1].endswith("n next · p prev · b back · /text search · ? help · q quit")
    _reader, written = session(library, ["q"], start="t1")
    assert written[-1].endswith("\nb back · /text search · ? help · q quit")


def test_next_prev_and_back_walk_and_retrace(library):
    reader, written = session(library, ["n", "p", "b", "b", "b"])
    assert titles_shown(written) == ["== Alpha ==", "== Beta ==", "== Alpha ==", "== Beta ==", "== Alpha =="]
    assert written[-1] == "Nothing to go back to: this is the first article of this session."
    assert reader.history == []


def test_missing_and_absent_nav_links_say_why(library):
    _reader, written = session(library, ["n", "n", "b", "p"])
    assert 'Next: "Lost article" is not in this knowledge base.' in written
    assert 'This article has no prev article (its footer has no "<<:" line).' in written


def test_ambiguous_nav_lists_candidates_and_a_number_opens_one(library):
    reader, written = session(library, ["1", "p", "2", "b"])
    listing = written[2]
    assert listing.startswith('Previous "Twin" matches 2 articles:')
    assert "1  Twin one\n     t1" in listing and "2  Twin two\n     t2" in listing
    assert titles_shown(written) == ["== Alpha ==", "== Gamma ==", "== Twin two ==", "== Gamma =="]


def test_numbers_follow_related_links_by_status(library):
    reader, written = session(library, ["2", "9", "4", "1"])
    assert 'Related 2: "Nowhere to be found…" is not in this knowledge base.' in written
    assert "There is no related link 9: this article has 1-4." in written
    assert "That link leads back to this article." in written  # a self link
    assert titles_shown(written)[-1] == "== Gamma =="
    assert reader.history == ["a"]


def test_ambiguous_related_offers_a_choice_that_lasts_one_command(library):
    reader, written = session(library, ["3", "n", "3", "1"])
    assert written[1].startswith('Related 3 "Twin opening…" matches 2 articles:')
    # "n" dropped the list, so the next "3" means Beta's related link 3 (it has none).
    assert written[2].startswith("== Beta ==")
    assert written[3:] == ["This article has no related links."] * 2
    assert reader.current.id == "b"


def test_search_lists_hits_and_a_number_opens_one(library):
    reader, written = session(library, ["/twin", "2", "b", "/", "/zzz"])
    assert written[1].startswith('2 hits for "twin":')
    assert written[1].endswith("Type a number to open a hit, or press Enter to return to the article.")
    assert titles_shown(written) == ["== Alpha ==", "== Twin two ==", "== Alpha =="]
    assert written[-2] == "Type / and the words to look for, e.g. /lumbar pain"
    assert written[-1] == 'No article matches "zzz".'


def test_opening_the_current_article_from_a_list_says_so(library):
    reader, written = session(library, ["/alpha", "1"])
    assert written[-1] == "You are reading that article."
    assert reader.history == [] and reader.opened == 1


def test_a_number_outside_the_pending_list_keeps_it(library):
    reader, written = session(library, ["/twin", "7", "1"])
    assert written[2] == "Choose 1-2 from the list, or press Enter to return to the article."
    assert reader.current.id == "t1"


def test_enter_redisplays_and_drops_the_list(library):
    reader, written = session(library, ["/twin", "", "1"])
    assert titles_shown(written) == ["== Alpha ==", "== Alpha ==", "== Gamma =="]
    assert reader.opened == 2


def test_goto_by_reference_and_errors_are_sanitised(library):
    reader, written = session(library, ["g twin one", "g nope", "g", "g gone"])
    assert titles_shown(written) == ["== Alpha ==", "== Twin one =="]
    assert written[2] == "no article matches 'nope'\n  red"
    assert written[3].startswith("Type g and an id")
    assert written[4] == "The file of vanished is gone (run `healthkb reindex`)."
    assert reader.current.id == "t1"


def test_unknown_commands_and_typed_control_characters_are_not_echoed_raw(library):
    _reader, written = session(library, ["x\x1b[2Jy", "?"])
    assert written[1].startswith('Unknown command "xy".')
    assert written[2] == HELP
    assert not any("\x1b" in chunk for chunk in written)


def test_back_skips_articles_whose_file_vanished(library):
    reader, written = session(library, ["n", "1"], start="a")
    reader.history = ["gone-id", "a", "gone-too"]
    reader.handle("b")
    assert reader.current.id == "a"
    assert reader.history == ["gone-id"]


# --- `healthkb read` over a pipe ------------------------------------------------




@pytest.fixture
def cycle_kb(make_kb, tmp_path):
    """Three articles whose prev/next form a cycle, plus teasers and an article
    whose nav text carries terminal escape sequences."""
    return make_kb({
        "cycle/a.txt": article("Alpha walks in a loop with its friends.", "Cycle C", "Cycle B",
                               ["Bravo follows alpha every sin", "Charlie closes the loop and", "Twin bodies open alike her"],
                               heading="Cycle A"),
        "cycle/b.txt": article("Bravo follows alpha every single time.", "Cycle A", "Cycle C", heading="Cycle B"),
        "cycle/c.txt": article("Charlie closes the loop and returns home nightly.", "Cycle B", "Cycle A", heading="Cycle C"),
        "twins/one.txt": article("Twin bodies open alike here, says one."),
        "twins/two.txt": article("Twin bodies open alike here, says two."),
        "esc/nav.txt": article("Escapes are stripped before display.", "\x1b[31mRed\x1b[0m herring\x1b]0;owned\x07",
                               "Cycle\x9b2J A", ["\x1b[1mBold\x1b[0m teaser text that"], heading="Escape \x1b[5mtest"),
    }, root=tmp_path / "cycle-kb")


def shown_titles(stdout):
    """Titles of the articles shown, in order (the line after each rule)."""
    lines = stdout.split("\n")
    return [lines[n + 1] for n, line in enumerate(lines) if line.startswith(RULE)]


def test_read_follows_a_prev_next_cycle_and_back(cycle_kb):
    result = run("--kb", str(cycle_kb), "read", "cycle/a", input="n\nn\nn\nb\nb\np\nq\n")
    assert result.exit_code == 0, result.stderr
    assert shown_titles(result.stdout) == ["Cycle A", "Cycle B", "Cycle C", "Cycle A", "Cycle C", "Cycle B", "Cycle A"]
    assert result.stdout.startswith("General health information, not medical advice.")
    assert "n next · p prev · 1-3 related · b back" in result.stdout


def test_read_related_numbers_ambiguous_choice_and_search(cycle_kb):
    commands = "2\nb\n3\n2\nb\n/nightly\n1\nq\n"
    result = run("--kb", str(cycle_kb), "read", "Cycle A", input=commands)
    assert result.exit_code == 0, result.stderr
    assert shown_titles(result.stdout) == ["Cycle A", "Cycle C", "Cycle A", "Two", "Cycle A", "Cycle C"]
    assert 'Related 3 "Twin bodies open alike her…" matches 2 articles:' in result.stdout
    assert '1 hit for "nightly":' in result.stdout


def test_read_ends_at_end_of_input_without_q(cycle_kb):
    result = run("--kb", str(cycle_kb), "read", "cycle/b", input="n\n")
    assert result.exit_code == 0
    assert shown_titles(result.stdout) == ["Cycle B", "Cycle C"]


def test_read_never_lets_escape_sequences_through(cycle_kb):
    result = run("--kb", str(cycle_kb), "read", "esc/nav", input="p\nn\nb\n1\n?\nq\n")
    assert result.exit_code == 0, result.stderr
    out = result.stdout_bytes + result.stderr_bytes
    assert b"\x1b" not in out and "\x9b".encode() not in out and b"\x07" not in out
    assert 'Previous: "Red herring" is not in this knowledge base.' in result.stdout
    assert shown_titles(result.stdout)[:2] == ["Escape test", "Cycle A"]


@pytest.mark.parametrize(("ref", "code", "needle"), [
    ("cycle/zzz", 1, "no article matches"),
    ("../../etc/passwd", 1, "no article matches"),
    ("twins/", 2, "twins/one"),
])
def test_read_bad_refs_exit_with_the_spec_codes(cycle_kb, ref, code, needle):
    result = run("--kb", str(cycle_kb), "read", ref, input="q\n")
    assert result.exit_code == code
    assert needle in result.stderr
    assert result.stdout == ""


def test_read_without_a_kb_exits_3(tmp_path):
    result = run("--kb", str(tmp_path / "nonexistent"), "read", "x", input="q\n")
    assert result.exit_code == 3


def test_read_help_lists_keys_and_an_example():
    result = run("read", "--help")
    assert result.exit_code == 0
    for key in ("n / p", "1..N", "/WORDS", "g REF", "printf"):
        assert key in result.stdout


# --- a real terminal --------------------------------------------------------------


def test_read_on_a_dumb_terminal_is_the_line_mode_reader(cycle_kb):
    """TERM=dumb cannot draw a screen: the line-mode reader runs instead."""
    pexpect = pytest.importorskip("pexpect")
    script = Path(sys.executable).parent / "healthkb"
    if not script.exists():
        pytest.skip(f"no healthkb console script beside {sys.executable}")
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "80", "LINES": "24"}
    child = pexpect.spawn(str(script), ["--kb", str(cycle_kb), "read", "esc/nav"], env=env,
                          dimensions=(24, 80), encoding="utf-8", timeout=60)
    transcript = []
    try:
        def step(command, *expected):
            if command is not None:
                child.sendline(command)
            for text in expected:
                child.expect_exact(text)
                transcript.append(child.before)
            child.expect_exact("> ")
            transcript.append(child.before)

        step(None, "Escape test", "q quit")
        step("n", "Cycle A", "1-3 related")
        step("1", "Cycle B")
        step("b", "Cycle A")
        step("/nightly", "1 hit for")
        step("1", "Cycle C")
        step("zz", 'Unknown command "zz"')
        child.sendline("q")
        child.expect(pexpect.EOF)
        transcript.append(child.before)
    finally:
        child.close()
    assert child.exitstatus == 0
    screen = "".join(transcript)
    assert "]0;owned" not in screen and "\x1b[31m" not in screen and "\x9b" not in screen


def test_the_full_screen_reader_never_draws_an_article_escape(cycle_kb):
    """On a real terminal (curses): the article's escapes never reach the
    screen, whatever keys are pressed."""
    from ptyscreen import Terminal, terminal_env

    term = Terminal(["--kb", str(cycle_kb), "read", "esc/nav"], env=terminal_env())
    try:
        first = term.pump("Escape test")
        assert "Escapes are stripped before display." in first
        for key in ("p", "n", "\x7f", "1", "?", "x", "/nightly\r", "\r"):
            term.send(key)
        term.send("q")
        assert term.wait() == 0
    finally:
        term.close()
    shown = term.all_text()
    assert "]0;owned" not in shown and "\x1b[31m" not in shown and "\x1b[5m" not in shown and "\x9b" not in shown
    assert "\x07" not in shown
