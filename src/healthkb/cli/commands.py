"""What the command line asks for, known before click is imported: which
commands only read the index, which walk the KB first, and whether it is a
plain search.

``healthkb.cli.main`` starts the freshness walk of these commands before
anything heavy loads (freshness.py); ``app.run`` may run the reading ones
once more after a damaged catalog was rebuilt, since each prints nothing
before it fails (export and graph stream as they go, so they are not here).
"""

from __future__ import annotations

READING_COMMANDS = frozenset({"search", "similar", "show", "list", "links", "check", "stats"})

# Commands that write, yet begin with a walk of the whole KB: ``reindex``
# (its update, unless --full) and ``add``/``edit`` (their freshness check).
UPDATING_COMMANDS = frozenset({"reindex", "add", "edit"})


def plain_search_args(args: list[str]) -> tuple[str | None, list[str]] | None:
    """(the --kb folder or None, the query words) when ``args`` is a plain
    search: ``[--kb DIR] search WORDS...`` with nothing else that looks like
    an option; else None (click parses it)."""
    kb_path = None
    if args[:1] == ["--kb"] and len(args) > 1:
        kb_path, args = args[1], args[2:]
    elif args[:1] and args[0].startswith("--kb="):
        kb_path, args = args[0][len("--kb="):], args[1:]
    if len(args) < 2 or args[0] != "search" or any(arg.startswith("-") for arg in args[1:]):
        return None
    return kb_path, args[1:]
