"""Shared CLI plumbing: the KB context, progress on stderr, output helpers.

Nothing here imports click, so that a plain search (searching.py) runs
without loading it; the click glue the commands share is in options.py.
"""

from __future__ import annotations

import contextlib
import os
import sys

from healthkb.cli.process import resume_collection
from healthkb.cli.commands import READING_COMMANDS
from healthkb.cli.pager import terminal_size
from healthkb.errors import BadInputError, OutputError
from healthkb.kb import KB, resolve_kb
from healthkb.text import sanitize

MAX_TEXT_WIDTH = 100
# The widest --width accepted: wider buys nothing on any screen, and a huge one
# made the wrapper build lines of that many columns (8.8 GB for 10**9).
MAX_WIDTH_OPTION = 1000
MIN_WIDTH = 20  # narrower terminals (COLUMNS=1) are laid out as if this wide




class Context:
    """Per-invocation state: the --kb option and the KB once resolved."""

    current: "Context | None" = None  # the invocation running in this process

    def __init__(self, kb_path: str | None, command: str | None = None, no_pager: bool = False, *, refresh: bool = True) -> None:
        self.kb_path = kb_path
        self.command = command
        self.no_pager = no_pager
        self.refresh = refresh  # False: --no-refresh
        self._kb: KB | None = None
        Context.current = self

    @property
    def kb(self) -> KB:
        if self._kb is None:
            resume_collection()  # the command's work begins: start-up is over
            self._kb = resolve_kb(self.kb_path)
            if self._kb.created_with is not None:
                notice(f"created your knowledge base at {self._kb.root} ({self._kb.created_with} starter articles)")
        return self._kb

    def open_index(self):
        from healthkb.index.api import open_index

        ix = open_index(self.kb, progress=progress_printer(), refresh=self.refresh)
        show_notices(ix)
        return ix


def rebuild_damaged_index() -> bool:
    """After a reading command hit a damaged catalog: rebuild the index of its
    KB and return True when the command can be run again."""
    ctx = Context.current
    if ctx is None or ctx._kb is None or ctx.command not in READING_COMMANDS:
        return False
    from healthkb.index.api import reindex

    report = reindex(ctx._kb, full=True)
    for message in report.notices or ["the index was damaged; rebuilt it"]:
        notice(message)
    return True


def show_notices(ix) -> None:
    """Print the index's notices not shown yet (a rebuild may add some later)."""
    for message in ix.take_notices():
        notice(message)


def echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Write ``text`` (and a newline) to stdout, or stderr, and flush: the
    one way the CLI prints."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n" if nl else text)
    stream.flush()


def notice(message: str) -> None:
    # Notices name paths (the KB, the index folder): no control characters.
    echo(fit_lines(f"healthkb: {sanitize(message)}"), err=True)


def fit_lines(text: str, width: int | None = None) -> str:
    """Wrap each line of a message at spaces to ``width`` (continuation
    lines indented), never breaking a word.  Without ``width``, a message
    for stderr: wrapped to the terminal when stderr is one, else left one
    line per message for logs and scripts to grep."""
    import textwrap

    if width is None:
        if not sys.stderr.isatty():
            return text
        width = terminal_width()
    return "\n".join(
        textwrap.fill(line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False) or line
        for line in text.split("\n")
    )


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def use_color() -> bool:
    return stdout_is_terminal() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def terminal_width(override: int | None = None) -> int:
    """Columns to lay output out in: ``override``, else $COLUMNS, else the
    terminal's width, else 80 (piped); never less than MIN_WIDTH."""
    if override:
        if not 20 <= override <= MAX_WIDTH_OPTION:
            raise BadInputError(f"--width must be from 20 to {MAX_WIDTH_OPTION}")
        return override
    return max(MIN_WIDTH, terminal_size().columns)


def text_width(override: int | None = None) -> int:
    # An explicit width is the user's choice (validated); the terminal's is capped for readability.
    return terminal_width(override) if override is not None else min(terminal_width(), MAX_TEXT_WIDTH)


def progress_printer():
    """A progress callback that draws on stderr, only when it is a terminal."""
    if not sys.stderr.isatty():
        return None
    state = {"last": ""}

    def report(phase: str, done: int, total: int) -> None:
        if total < 200:
            return
        line = f"\r{phase} {done:,}/{total:,} ({100 * done // max(total, 1)}%)"
        if line != state["last"]:
            echo(line, err=True, nl=False)
            state["last"] = line
        if done >= total and phase == "indexing":
            echo("\r" + " " * len(line) + "\r", err=True, nl=False)

    return report


class OutputClosed(Exception):
    """Whoever read stdout went away (``| head``).  Not an OSError, so that
    click does not turn it into exit 1 on its way to failures.py."""


@contextlib.contextmanager
def writing_stdout():
    """Turn failures to write stdout into OutputClosed or a clean OutputError."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed() from None
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None


def write_out(text: str) -> None:
    with writing_stdout():
        echo(text)


def emit(text: str, pager: bool = False) -> None:
    """Print to stdout; with ``pager``, text taller than the terminal goes
    through the pager (see cli.pager) unless --no-pager."""
    if not pager:
        write_out(text)
        return
    from healthkb.cli.pager import page_or_print

    ctx = Context.current
    page_or_print(text, write_out, notice, enabled=not (ctx and ctx.no_pager))
