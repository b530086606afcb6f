"""`read`: the reader over an open index.

The full-screen reader (:mod:`healthkb.screenreader`, curses) on a terminal;
the line-mode reader (:mod:`healthkb.reader`) when stdin or stdout is not a
terminal or the terminal cannot draw a screen (TERM=dumb), so scripts and
tests can drive it line by line.  Both get their articles from
:class:`IndexLibrary`, rendered like `show`.
"""

from __future__ import annotations

import sys

import click

from healthkb.cli.browse import heading_lines, links_payload, see_also
from healthkb.cli.common import MAX_WIDTH_OPTION, echo, fit_lines, text_width, use_color, write_out
from healthkb.cli.options import pass_ctx
from healthkb.cli.completion import complete_ref
from healthkb.errors import NotFoundError
from healthkb.reader import Page, Reader
from healthkb.render import BOLD, DIM, DISCLAIMER, RESET, fit, wrap


def _bold(text: str, color: bool) -> str:
    return f"{BOLD}{text}{RESET}" if color else text


class IndexLibrary:
    """The reader's :class:`~healthkb.reader.Library` over an open index."""

    def __init__(self, ix, width: int, color: bool) -> None:
        self.ix = ix
        self.width = width
        self.color = color
        self.list_backlinks = False  # the full-screen reader lists them; line mode names the command

    def page(self, article_id: str) -> Page | None:
        row = self.ix.catalog.article(article_id)
        body = self.ix.body(row) if row is not None else None
        if body is None:
            return None
        payload = links_payload(self.ix, row)
        backlinks = self.ix.backlinks(row)
        sources = {i for i, _t, _k in backlinks}
        rule = "─" * self.width
        lines = [f"{DIM}{rule}{RESET}" if self.color else rule, *heading_lines(row, self.width, self.color), ""]
        lines.append(wrap(body, self.width) if body.strip() else "(this article has no body text)")
        extra = see_also(payload, 0 if self.list_backlinks else len(sources), row.id, self.width, self.color)
        if extra:
            lines += ["", *extra]
        if self.list_backlinks and sources:
            # The full-screen reader lists who links here (g and a title goes there).
            titles = {i: t for i, t, _k in backlinks}
            lines += ["", f"Linked from {len(sources)} article{'' if len(sources) == 1 else 's'}"]
            lines += [f"  ← {fit(titles[i], self.width - 4)}" for i in sorted(sources)]
        return Page(row.id, row.title, lines, payload["prev"], payload["next"], payload["related"])

    def titles(self, ids):
        return self.ix.titles(ids)

    def search(self, text: str, limit: int):
        # KBIndex.search rebuilds a damaged index and asks again; older
        # KBIndex objects only have searcher().
        search = getattr(self.ix, "search", None) or self.ix.searcher().search
        result = search(text, limit=limit)
        notes = list(result.notices)
        if result.fallback and result.hits:
            notes.append("No article has all of the words; these have some of them.")
        if result.suggestion and not result.hits:
            notes.append(f"Did you mean: /{result.suggestion}")
        return [(hit.id, hit.title) for hit in result.hits], notes

    def resolve(self, ref: str) -> str:
        return self.ix.resolve(ref).id


def _line_reader():
    """read_line for the reader: a prompt with line editing on a terminal,
    plain lines (no prompt) from a pipe."""
    if sys.stdin.isatty():
        try:
            import readline  # noqa: F401 - imported for its side effect: editing and history in input()
        except ImportError:  # pragma: no cover - e.g. Windows
            pass

        def read_terminal() -> str | None:
            try:
                return input("> ")
            except EOFError:
                return None

        return read_terminal

    def read_pipe() -> str | None:
        line = sys.stdin.readline()
        return line.rstrip("\r\n") if line else None

    return read_pipe


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--width", type=click.IntRange(20, MAX_WIDTH_OPTION), metavar="N", help=f"Wrap articles to N columns (20 to {MAX_WIDTH_OPTION}).")
@pass_ctx
def read(ctx, ref: str, width: int | None) -> None:
    """Read REF page by page and follow its links, like GNU info.

    \b
    On a terminal, full screen; keys:
      space / b    next / previous page
      n / p        next / previous article
      1..N         follow related link N
      Backspace/h  back where you came from
      /            search, then a number opens a hit
      g            go to an article;  ? help;  q quit

    \b
    From a pipe or with TERM=dumb, commands are read
    line by line: n, p, 1..N, b (back), /WORDS, g REF,
    ? and q, each followed by Enter.

    \b
    Examples:
      healthkb read 000_ec7fe29246c6fc0e
      printf 'n\\n2\\nb\\nq\\n' | healthkb read "Do you have"
    """

    with ctx.open_index() as ix:
        row = ix.resolve(ref)
        library = IndexLibrary(ix, text_width(width), use_color())
        start = library.page(row.id)
        if start is None:
            raise NotFoundError(f"the file of {row.id} is gone: {row.path}", hint="run `healthkb reindex`")
        from healthkb import screenreader

        if screenreader.usable():
            # Full screen on a terminal; the line-mode reader otherwise
            # (pipes, TERM=dumb), which scripts and tests drive line by line.
            library.color = False  # curses draws its own bold
            library.list_backlinks = True
            screenreader.read_fullscreen(library, start, DISCLAIMER)
            return
        echo(f"{DIM}{DISCLAIMER}{RESET}" if library.color else DISCLAIMER)
        reader = Reader(library, _line_reader(), lambda text: write_out(fit_lines(text, library.width)), width=library.width)
        reader.run(start)


COMMANDS = [read]
