"""`search` and `similar`."""

from __future__ import annotations

import click

from healthkb.cli.completion import complete_ref
from healthkb.cli.common import emit, notice, pass_ctx, positive, show_notices, terminal_width, use_color
from healthkb.errors import NotFoundError
from healthkb.render import DIM, RESET, fit, to_json, two_column, wrap_segments
from healthkb.text import sanitize_line, shorten

HITS_MAX_WIDTH = 120


# Hits shown per page: each costs a read of its file for the snippet, and
# scripts that want more can page.
MAX_HITS = 100


def load_searcher_modules() -> None:
    """Import Whoosh and the query pipeline before the index is opened: the
    freshness walk started by cli.main runs beside these imports."""
    import healthkb.query.search  # noqa: F401


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


def quote_query(query: str, width: int = 80) -> str:
    """The query in quotes a shell takes back: "..." unless it holds a double quote."""
    text = shorten(sanitize_line(query), width)  # a long query is echoed only in part
    return f"'{text}'" if '"' in text and "'" not in text else f'"{text}"'


def _range(hits, total: int, paged: bool) -> str:
    """ "11–20 of 45 " before "results", when only some are shown."""
    if not hits or not paged:
        return ""
    first, last = hits[0].rank, hits[-1].rank
    return f"{first} of " if first == last else f"{first}–{last} of "


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
    text = " ".join(query)
    load_searcher_modules()
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
            "rescue": result.rescue, "total_exact": result.total_exact,
        }))
    else:
        if result.hits:
            emit("\n".join(_hit_lines(result.hits, min(terminal_width(), HITS_MAX_WIDTH), use_color())), pager=True)
        width = terminal_width()
        paged = page > 1 or result.total > len(result.hits)
        noun = "result" if result.total == 1 else "results"
        if result.expanded:
            click.echo(fit(f"also searched: {', '.join(result.expanded)}", width), err=True)
        quoted = quote_query(result.query, max(10, width - 40))
        about = "" if result.total_exact else "about "
        click.echo(f"{_range(result.hits, result.total, paged)}{about}{result.total:,} {noun} for {quoted} "
                   f"({result.seconds * 1000:.0f} ms)", err=True)
        if not result.hits and result.total:
            last = (result.total + limit - 1) // limit
            notice(f"page {page} is past the end: {limit} per page makes {_pages(last)}")
        if result.suggestion and result.rescue != "spelling":  # the rescue's notice said it
            click.echo(f"did you mean: healthkb search {quote_query(result.suggestion)}", err=True)
        if result.hits and result.total > page * limit:
            more = " --exact" if exact else ""
            click.echo(f"more: healthkb search {quote_query(result.query, 200)} --page {page + 1}{more}", err=True)
    if not result.hits:
        raise SystemExit(1)


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(max=MAX_HITS), callback=positive,
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
        emit(to_json({"id": row.id, "title": row.title, "hits": [_hit_json(h) for h in hits]}))
    elif hits:
        emit("\n".join(_hit_lines(hits, min(terminal_width(), HITS_MAX_WIDTH), use_color())), pager=True)
    if not hits:
        raise NotFoundError(f"no article is similar enough to {row.id}")


COMMANDS = [search, similar]
