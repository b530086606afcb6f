"""`healthkb search`: the search itself and how its hits are shown.

Click-free, so that a plain search (``healthkb search WORDS``, no option
but ``--kb DIR`` before the command) runs without importing click: ``healthkb.cli.main`` sends such a command
line straight to :func:`plain_search`, which calls :func:`run_search` with
the options' defaults, the same function the click command calls
(search_cmds.py).  Anything else on the command line (an option, --help, no
words) goes through click, which parses it and reports what is wrong.
"""

from __future__ import annotations

from typing import NoReturn

from healthkb.cli.common import Context, echo, emit, notice, show_notices, terminal_width, use_color
from healthkb.errors import NotFoundError
from healthkb.render import DIM, RESET, fit, to_json, two_column, wrap_segments
from healthkb.text import sanitize_line, shorten

HITS_MAX_WIDTH = 120
DEFAULT_LIMIT = 10  # hits per page, for both ways in (plain_search and the click option)

# Hits shown per page: each costs a read of its file for the snippet, and
# scripts that want more can page.
MAX_HITS = 100


def load_searcher_modules() -> None:
    """Import Whoosh and the query pipeline before the index is opened: the
    freshness walk started by cli.main runs beside these imports."""
    import healthkb.query.search  # noqa: F401


def hit_lines(hits, width: int, color: bool) -> list[str]:
    """Each hit as its rank, title and id, snippet, and (--explain) why it ranked."""
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


def hit_json(hit) -> dict:
    """A hit as JSON (SPEC's `search --json`)."""
    return {"id": hit.id, "title": hit.title, "score": hit.score, "snippet": hit.snippet_text, "path": hit.path}


def plain_search(kb_path: str | None, words: list[str], *, retried: bool = False) -> NoReturn:
    """``healthkb [--kb DIR] search WORDS`` without click: the command's
    defaults, the same search, output and exit codes (failures.py)."""
    from healthkb.cli.failures import finish

    ctx = Context(kb_path, "search")
    finish(lambda: run_search(ctx, tuple(words)), again=lambda: plain_search(kb_path, words, retried=True),
           retried=retried)


def run_search(ctx: Context, query: tuple[str, ...], limit: int = DEFAULT_LIMIT, page: int = 1,
               as_json: bool = False, explain: bool = False, exact: bool = False) -> None:
    """Search, print the hits (stdout) and what the search did (stderr);
    exit 1 when nothing is shown."""
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
            "hits": [hit_json(h) | ({"explain": h.explain} if explain else {}) for h in result.hits],
            "suggestion": result.suggestion, "fallback": result.fallback, "expanded": result.expanded,
            "rescue": result.rescue, "total_exact": result.total_exact,
        }))
    else:
        if result.hits:
            emit("\n".join(hit_lines(result.hits, min(terminal_width(), HITS_MAX_WIDTH), use_color())), pager=True)
        width = terminal_width()
        paged = page > 1 or result.total > len(result.hits)
        noun = "result" if result.total == 1 else "results"
        if result.expanded:
            echo(fit(f"also searched: {', '.join(result.expanded)}", width), err=True)
        quoted = quote_query(result.query, max(10, width - 40))
        about = "" if result.total_exact else "about "
        echo(f"{_range(result.hits, result.total, paged)}{about}{result.total:,} {noun} for {quoted} "
             f"({result.seconds * 1000:.0f} ms)", err=True)
        if not result.hits and result.total:
            last = (result.total + limit - 1) // limit
            notice(f"page {page} is past the end: {limit} per page makes {_pages(last)}")
        if result.suggestion and result.rescue != "spelling":  # the rescue's notice said it
            echo(f"did you mean: healthkb search {quote_query(result.suggestion)}", err=True)
        if result.hits and result.total > page * limit:
            more = " --exact" if exact else ""
            echo(f"more: healthkb search {quote_query(result.query, 200)} --page {page + 1}{more}", err=True)
    if not result.hits:
        raise SystemExit(1)
