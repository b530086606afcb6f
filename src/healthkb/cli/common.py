"""Shared CLI plumbing: the KB context, progress on stderr, output helpers."""

from __future__ import annotations

import os
import shutil
import sys

import click

from healthkb.errors import BadInputError
from healthkb.kb import KB, resolve_kb
from healthkb.text import sanitize

MAX_TEXT_WIDTH = 100
# The widest --width accepted: wider buys nothing on any screen, and a huge one
# made the wrapper build lines of that many columns (8.8 GB for 10**9).
MAX_WIDTH_OPTION = 1000


# Commands that only read the index: after a damaged catalog is rebuilt they
# can simply run again (see cli.main).
# Commands that may be run once more after a damaged index is rebuilt: those
# that print nothing before they fail (export and graph stream as they go).
READING_COMMANDS = frozenset({"search", "similar", "show", "list", "links", "check", "stats"})


class Context:
    """Per-invocation state: the --kb option and the KB once resolved."""

    current: "Context | None" = None  # the invocation running in this process

    def __init__(self, kb_path: str | None, command: str | None = None) -> None:
        self.kb_path = kb_path
        self.command = command
        self._kb: KB | None = None
        Context.current = self

    @property
    def kb(self) -> KB:
        if self._kb is None:
            self._kb = resolve_kb(self.kb_path)
            if self._kb.created_with is not None:
                notice(f"created your knowledge base at {self._kb.root} ({self._kb.created_with} starter articles)")
        return self._kb

    def open_index(self):
        from healthkb.index.api import open_index

        ix = open_index(self.kb, progress=progress_printer())
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


pass_ctx = click.make_pass_decorator(Context)


def notice(message: str) -> None:
    # Notices name paths (the KB, the index folder): no control characters.
    click.echo(f"healthkb: {sanitize(message)}", err=True)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def use_color() -> bool:
    return stdout_is_terminal() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def terminal_width(override: int | None = None) -> int:
    if override:
        if not 20 <= override <= MAX_WIDTH_OPTION:
            raise BadInputError(f"--width must be from 20 to {MAX_WIDTH_OPTION}")
        return override
    return shutil.get_terminal_size((80, 24)).columns


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
            click.echo(line, err=True, nl=False)
            state["last"] = line
        if done >= total and phase == "indexing":
            click.echo("\r" + " " * len(line) + "\r", err=True, nl=False)

    return report


def emit(text: str, pager: bool = False) -> None:
    """Print to stdout, through the pager when asked and on a terminal."""
    if pager and stdout_is_terminal():
        click.echo_via_pager(text + "\n")
    else:
        click.echo(text)


def positive(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter("must be 1 or more")
    return value
