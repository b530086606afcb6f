"""`search` and `similar`."""

from __future__ import annotations

import click

from healthkb.cli.common import emit, notice, pass_ctx, positive, show_notices, terminal_width, use_color
from healthkb.errors import NotFoundError
from healthkb.render import DIM, RESET, to_json, two_column, wrap_segments
from healthkb.text import shorten


# Hits shown per page: each costs a read of its file for the snippet, and
# scripts that want more can page.
MAX_HITS = 100


def _hit_lines(hits, width: int, color: bool) -> list[str]:
    heads = two_column([(h.title, h.id) for h in hits], width, indent="    ", dim=color)
    per_hit = len(heads) // max(len(hits), 1)
    lines = []
    for n, hit in enumerate(hits):
        head = heads[n * per_hit : (n + 1) * per_hit]
        head[0] = f"{hit.rank:>2}  {head[0][4:]}"
        lines.extend(head)
        if hit.snippet:
            lines.extend(wrap_segments(hit.snippet, width, indent="    ", color=color))
        lines.extend(f"    {DIM if color else ''}{why}{RESET if color else ''}" for why in hit.explain)
    return lines


def _pages(count: int) -> str:
    return "1 page" if count == 1 else f"{count:,} pages"


def _hit_json(hit) -> dict:
    return {"id": hit.id, "title": hit.title, "score": hit.score, "snippet": hit.snippet_text, "path": hit.path}


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(max=MAX_HITS), callback=positive,
              help=f"Results per page (at most {MAX_HITS}).")
@click.option("--page", "-p", default=1, show_default=True, callback=positive, help="Page of results to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--explain", is_flag=True, help="Show why each hit ranked where it did.")
@click.option("--exact", is_flag=True, help="Only the words as typed: no synonyms, spellings or abbreviations.")
@pass_ctx
def search(ctx, query: tuple[str, ...], limit: int, page: int, as_json: bool, explain: bool, exact: bool) -> None:
    """Search the articles (AND by default, "phrases", title:, wild*).

    \b
    Examples:
      healthkb search lumbar
      healthkb search "disc herniation" --limit 5
      healthkb search 'title:insomnia OR sleep'
    """
    text = " ".join(query)
    with ctx.open_index() as ix:
        result = ix.search(text, limit=limit, page=page, explain=explain, exact=exact)
        show_notices(ix)
        empty_kb = not result.total and ix.catalog.count() == 0
    if empty_kb and not as_json:
        raise NotFoundError("this knowledge base has no articles yet", hint="add some with `healthkb add FILE...`")
    for message in result.notices:
        notice(message)
    if as_json:
        emit(to_json({
            "query": result.query, "total": result.total, "page": result.page, "limit": result.limit,
            "hits": [_hit_json(h) | ({"explain": h.explain} if explain else {}) for h in result.hits],
            "suggestion": result.suggestion, "fallback": result.fallback, "expanded": result.expanded,
            "rescue": result.rescue,
        }))
    else:
        if result.hits:
            emit("\n".join(_hit_lines(result.hits, min(terminal_width(), 120), use_color())))
        shown = f"{result.hits[0].rank}–{result.hits[-1].rank} of " if result.hits and (page > 1 or result.total > len(result.hits)) else ""
        noun = "result" if result.total == 1 else "results"
        quoted = shorten(result.query, 80)  # a long query is echoed only in part
        if result.expanded:
            click.echo(f"also searched: {shorten(', '.join(result.expanded), 200)}", err=True)
        click.echo(f"{shown}{result.total:,} {noun} for \"{quoted}\" ({result.seconds * 1000:.0f} ms)", err=True)
        if not result.hits and result.total:
            last = (result.total + limit - 1) // limit
            notice(f"page {page} is past the end: {limit} per page makes {_pages(last)}")
        if result.suggestion and result.rescue != "spelling":  # the rescue's notice said it
            click.echo(f"did you mean: healthkb search \"{result.suggestion}\"", err=True)
        if result.hits and result.total > page * limit:
            more = " --exact" if exact else ""
            click.echo(f"more: healthkb search \"{result.query}\" --page {page + 1}{more}", err=True)
    if not result.hits:
        raise SystemExit(1)


@click.command()
@click.argument("ref")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(max=MAX_HITS), callback=positive,
              help=f"How many articles to list (at most {MAX_HITS}).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def similar(ctx, ref: str, limit: int, as_json: bool) -> None:
    """More articles like REF (by their most telling words)."""
    with ctx.open_index() as ix:
        row = ix.resolve(ref)
        hits = ix.similar(row, limit=limit)
        show_notices(ix)
    if as_json:
        emit(to_json({"id": row.id, "title": row.title, "hits": [_hit_json(h) for h in hits]}))
    elif hits:
        emit("\n".join(_hit_lines(hits, min(terminal_width(), 120), use_color())))
    if not hits:
        raise NotFoundError(f"no article is similar enough to {row.id}")


COMMANDS = [search, similar]
