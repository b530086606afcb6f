"""Golden screens: the real CLI in an 80x24 pseudo-terminal (pexpect + the
pyte emulator), compared with screens stored in tests/screens/ after a
person looked at them.  Also what only a terminal shows: the pager (and
its bad inputs), the full-screen reader's keys, resize and Ctrl-C.

The KB is the starter KB plus the seed article, as after the README's `add`,
plus one note of the user's own with a footer that names what the KB lacks.
"""

from __future__ import annotations

import shutil

import pytest

from clihelp import STARTER_DIR, run_cli, starter_files
from ptyscreen import Terminal, same_screen, terminal_env

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

SEED = "000_ec7fe29246c6fc0e"
SITTING = "back/sitting-posture-and-lumbar-pain"
needs_less = pytest.mark.skipif(shutil.which("less") is None, reason="less is not installed")


@pytest.fixture
def kb(make_kb, seed_path):
    files = starter_files()
    files[f"{SEED}.txt"] = seed_path.read_bytes()
    # One note of the user's own whose footer names what the KB lacks, so `check` has something to say.
    files["notes/knee-notes.txt"] = (
        "# My knee notes\nThe physio said to keep cycling and to ice after long walks. |\n"
        "<<: Why do knees hurt when climbing stairs?\n>>: Knee braces for runners\n"
        "Pain at the front of the knee that flares on stai...\nA brace only helps when it fits the knee it is...\n"
    )
    root = make_kb(files)
    assert run_cli("reindex").code == 0
    return root


def first_screen(*args: str, until: str, env=None) -> tuple[str, Terminal]:
    term = Terminal(list(args), env=env)
    return term.pump(until), term


# --- golden screens ------------------------------------------------------------------


def test_search_screen(kb):
    text, term = first_screen("search", "lumbar", until="results for")
    assert term.wait() == 0
    same_screen("search-lumbar", text)


@needs_less
def test_show_screen_is_paged_from_the_top_and_stays_after_q(kb):
    text, term = first_screen("show", SITTING, until="Sitting posture")
    same_screen("show-sitting", text)
    assert 0 in term.bold_lines()  # the title is bold: colours survive the pager
    after = term.send("q")
    assert term.wait() == 0
    assert "Sitting posture and lumbar pain" in after  # less -X: the text stays on the screen


@needs_less
def test_links_screen(kb):
    text, term = first_screen("links", SEED, until="outgoing links")
    same_screen("links-seed", text)
    term.send("q")
    assert term.wait() == 0


def test_check_screen(kb):
    text, term = first_screen("check", until="problem")
    assert term.wait() == 1
    same_screen("check", text)


@needs_less
def test_list_screen(kb):
    text, term = first_screen("list", until="words")
    same_screen("list", text)
    term.send("q")
    assert term.wait() == 0


def test_reader_screens(kb):
    term = Terminal(["read", SITTING])
    try:
        same_screen("read-1-start", term.pump("Sitting posture"))
        same_screen("read-2-related-2", term.send("2", "Is bed rest good"))
        same_screen("read-3-backspace", term.send("\x7f", "Sitting posture"))
        same_screen("read-4-next", term.send("n", "Is bed rest good"))
        same_screen("read-5-search-sleep", term.send("/sleep\r", "hits for"))
        opened = term.send("\r", "sleep")  # Enter opens the first hit
        assert "Snoring" in opened or "sleep/" in opened
        term.send("q")
        assert term.wait() == 0
    finally:
        term.close()


# --- the reader: keys, resize, Ctrl-C ----------------------------------------------------


def test_reader_pages_and_goes_to_a_ref(kb):
    term = Terminal(["read", SITTING])
    try:
        start = term.pump("Sitting posture")
        assert "Hours in a chair" in start and "See also" not in start  # the article first, links after
        second = term.send(" ", "See also")
        assert "Hours in a chair" not in second
        assert "Hours in a chair" in term.send("b", "Hours in a chair")
        assert "prev, next" not in term.send("?", "this help")
        term.send("x")  # any key leaves the help
        went = term.send("gcolds and fevers\r", "Colds and fevers")
        assert "infections/colds-and-fevers-how-to-look-after-yourself-at-home" in went
        assert "Sitting posture" in term.send("h", "Sitting posture")
        term.send("q")
        assert term.wait() == 0
    finally:
        term.close()


def test_reader_redraws_for_the_new_width_on_resize(kb):
    term = Terminal(["read", SITTING])
    try:
        term.pump("Sitting posture")
        term.resize(30, 60)
        text = term.pump("Hours in a chair", settle=0.8)
        lines = text.split("\n")
        assert max(len(line) for line in lines) <= 60
        # Laid out again for 60 columns, not cut at 60: a full line of the body ends a word.
        body = [line for line in lines[3:12] if line]
        assert max(len(line) for line in body) <= 59 and len(body) > 4
        assert "%" in lines[29] or "all" in lines[29] or "end" in lines[29]  # the status bar moved to the new last line
        term.resize(3, 8)  # absurdly small: drawn as far as it goes, no crash
        term.pump(settle=0.8)
        term.resize(24, 80)
        assert "Sitting posture" in term.send("\x1b[H", "Sitting posture")  # Home: the top, at 80 columns again
        term.send("q")
        assert term.wait() == 0
    finally:
        term.close()


def test_ctrl_c_in_the_reader_restores_the_terminal(kb):
    term = Terminal(["read", SITTING])
    try:
        term.pump("Sitting posture")
        term.send("\x03")
        status = term.wait()
        assert status == 130
        assert "Traceback" not in term.text()
    finally:
        term.close()


def test_dumb_terminal_reads_line_by_line(kb):
    term = Terminal(["read", SITTING], env=terminal_env(TERM="dumb"))
    try:
        term.pump("q quit")
        assert "Hours in a chair" in term.all_text() and term.all_text().endswith("> ")
        assert "\x1b[?1049h" not in term.all_text()  # never switched to the full screen
        term.send("n\r", "q quit")
        assert "A slipped or herniated disc" in term.all_text()
        term.send("q\r")
        assert term.wait() == 0
    finally:
        term.close()


# --- the pager ----------------------------------------------------------------------


def test_short_output_is_printed_not_paged(kb, tmp_path):
    log = tmp_path / "paged.txt"
    term = Terminal(["search", "lumbar"], env=terminal_env(PAGER=f"sh -c 'cat > {log}'"))
    assert term.wait() == 0
    assert not log.exists() and "results for" in term.text()


def test_pager_env_order_and_no_pager(kb, tmp_path):
    log = tmp_path / "paged.txt"
    mine = f"sh -c 'cat > {log}'"
    term = Terminal(["list"], env=terminal_env(HEALTHKB_PAGER=mine, PAGER="false"))
    assert term.wait() == 0
    assert "back/exercises-that-protect-the-lumbar-spine" in log.read_text()  # $HEALTHKB_PAGER wins over $PAGER
    log.unlink()
    term = Terminal(["list", "--no-pager"], env=terminal_env(HEALTHKB_PAGER=mine))
    assert term.wait() == 0 and not log.exists()
    term = Terminal(["--no-pager", "list"], env=terminal_env(PAGER=mine))
    assert term.wait() == 0 and not log.exists()
    term = Terminal(["list"], env=terminal_env(PAGER=mine, TERM="dumb"))  # a dumb terminal: no pager
    assert term.wait() == 0 and not log.exists()


@pytest.mark.parametrize("pager, says", [("false", "failed (exit 1)"), ("no-such-pager-here", "was not found")])
def test_a_failing_or_missing_pager_prints_directly(kb, pager, says):
    term = Terminal(["list"], env=terminal_env(PAGER=pager))
    assert term.wait() == 0
    # One notice, then the list itself, whole: its last article ends the screen.
    assert says in term.all_text() and "printing directly" in term.all_text()
    assert "back/exercises-that-protect-the-lumbar-spine" in term.all_text()
    assert "skin/what-your-nails-say-about-your-health" in term.text()


def test_no_less_on_path_prints_directly(kb, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    (empty / "python").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    env = terminal_env(PATH=str(empty))
    term = Terminal(["list"], env=env)
    assert term.wait() == 0
    assert "skin/what-your-nails-say-about-your-health" in term.text()


@needs_less
def test_ctrl_c_in_the_pager_is_the_pagers(kb):
    text, term = first_screen("list", until="words")
    term.send("\x03")  # less ignores it; healthkb must not die under it
    assert term.child.isalive()
    term.send("q")
    assert term.wait() == 0


def test_messages_wrap_to_the_terminal(kb):
    """On a terminal, errors and hints wrap at spaces to its width."""
    term = Terminal(["show", "is"], cols=60)
    assert term.wait() == 2
    lines = term.text().split("\n")
    assert max(map(len, lines)) <= 60
    assert "'is' matches" in lines[0] and any(line.startswith("hint: ") for line in lines)
