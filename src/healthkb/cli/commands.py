"""What the command line asks for, known before click is imported: which
commands only read the index, and whether it is a plain search.

``healthkb.cli.main`` starts the freshness walk of these commands before
anything heavy loads (freshness.py); ``app.run`` may run them once more
after a damaged catalog was rebuilt, since each prints nothing before it
fails (export and graph stream as they go, so they are not here).
"""

from __future__ import annotations

READING_COMMANDS = frozenset({"search", "similar", "show", "list", "links", "check", "stats"})


def plain_words(args: list[str]) -> list[str] | None:
    """The query words when ``args`` is a plain search (``search`` and words,
    nothing that looks like an option), else None."""
    if len(args) < 2 or args[0] != "search" or any(arg.startswith("-") for arg in args[1:]):
        return None
    return args[1:]
