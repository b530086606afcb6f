"""`search` and `similar`: their options (the search itself is in searching.py)."""

from __future__ import annotations

import click

from healthkb.cli.common import emit, show_notices, terminal_width, use_color
from healthkb.cli.completion import complete_ref
from healthkb.cli.options import pass_ctx, positive
from healthkb.cli.searching import (
    DEFAULT_LIMIT, HITS_MAX_WIDTH, MAX_HITS, hit_json, hit_lines, load_searcher_modules, run_search,
)
from healthkb.errors import NotFoundError
from healthkb.render import to_json


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(max=MAX_HITS), callback=positive,
              help=f"Results per page (at most {MAX_HITS}).")
@click.option("--page", "-p", default=1, show_default=True, callback=positive, help="Page of results to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--explain", is_flag=True, help="Show why each hit ranked where it did.")
@click.option("--exact", is_flag=True, help="Only the words as typed: no synonyms, spellings or abbreviations.")
@pass_ctx
def search(ctx, query: tuple[str, ...], limit: int, page: int, as_json: bool, explain: bool, exact: bool) -> None:
    """Search the articles: keywords (all words first) or a question as typed.

    Syntax when clearly meant: "phrases", title:word, wild*, AND/OR/NOT
    between keywords; punctuation in a sentence is read as text.

    \b
    Examples:
      healthkb search lumbar
      healthkb search "how do I get rid of heartburn?"
      healthkb search "disc herniation" --limit 5
      healthkb search 'title:insomnia OR sleep'
    """
    run_search(ctx, query, limit, page, as_json, explain, exact)


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--limit", "-n", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(max=MAX_HITS), callback=positive,
              help=f"How many articles to list (at most {MAX_HITS}).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def similar(ctx, ref: str, limit: int, as_json: bool) -> None:
    """More articles like REF (by their most telling words)."""
    load_searcher_modules()
    with ctx.open_index() as ix:
        row = ix.resolve(ref)
        hits = ix.similar(row, limit=limit)
        show_notices(ix)
    if as_json:
        emit(to_json({"id": row.id, "title": row.title, "hits": [hit_json(h) for h in hits]}))
    elif hits:
        emit("\n".join(hit_lines(hits, min(terminal_width(), HITS_MAX_WIDTH), use_color())), pager=True)
    if not hits:
        raise NotFoundError(f"no article is similar enough to {row.id}")


COMMANDS = [search, similar]
