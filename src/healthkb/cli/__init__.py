"""The command line.  This package is the only place that imports click.

:func:`main` is the entry point.  Before anything heavy is imported it
glances at the command line and, for a command that reads the index or
updates it, starts the freshness walk in a background process
(freshness.py), so that the walk runs beside the imports of click, Whoosh
and the command.  A plain search (``search`` and words, no option but
--kb) then runs without click (searching.py); everything else runs the
command group (app.py), where options are parsed for real.  Either way,
failures become messages and exit codes in failures.py.
"""

from __future__ import annotations

import os
import sys

from healthkb.cli.commands import READING_COMMANDS, UPDATING_COMMANDS, plain_search_args
from healthkb.freshness import ENV_NO_REFRESH, discard_background_walk, start_background_walk


def entry() -> None:
    """The process entry point (the ``healthkb`` script, ``python -m healthkb``):
    :func:`main` in a process that ends with the command, so it may skip
    garbage collection at start-up and the interpreter's teardown
    (process.py), and defer modules it never uses (query/startup.py)."""
    from healthkb.cli import process
    from healthkb.query.startup import defer_unused_stdlib_modules

    process.pause_collection()
    defer_unused_stdlib_modules()
    try:
        main()
    except SystemExit as stop:
        common = sys.modules.get("healthkb.cli.common")  # loaded if a command ran
        context = common.Context.current if common is not None else None
        process.end(stop, context.command if context is not None else None)


def main(argv: list[str] | None = None, *, retried: bool = False) -> None:
    """Entry point: run the CLI; every failure becomes a message and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    _start_freshness_walk(args)
    try:
        plain = plain_search_args(args)
        if plain is not None:
            # `healthkb [--kb DIR] search WORDS`: nothing for click to parse,
            # so it is not even imported (~12 ms of a search's start-up).
            from healthkb.cli.searching import plain_search

            plain_search(*plain, retried=retried)
        else:
            from healthkb.cli.app import run

            run(argv, retried)
    finally:
        discard_background_walk()


def _start_freshness_walk(args: list[str]) -> None:
    """Start a reading or updating command's freshness walk in the background.  The
    command line is only glanced at here; a wrong guess costs the walk, never
    a stale answer (the digest is used only for the KB the command resolves)."""
    if os.environ.get(ENV_NO_REFRESH):
        return
    command = kb_option = None
    words = iter(args)
    for word in words:
        if word == "--":
            break
        if word in ("--no-refresh", "-h", "--help", "-V", "--version"):
            return
        if word == "--kb":
            kb_option = next(words, None)
        elif word.startswith("--kb="):
            kb_option = word[len("--kb="):]
        elif command is None and not word.startswith("-"):
            command = word
    updating = command in UPDATING_COMMANDS and "--full" not in args
    if command in READING_COMMANDS or updating:
        # Imported here, before the fork, rather than in the child: the
        # command imports it anyway, and the child then starts walking at once.
        from healthkb.kb import existing_kb_root

        start_background_walk(lambda: existing_kb_root(kb_option), listings=updating)


def __getattr__(name: str):
    # The group and the decorator load click: only when asked for (tests, completion).
    if name in ("cli", "pass_ctx", "run"):
        from healthkb.cli import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli", "entry", "main", "pass_ctx"]
