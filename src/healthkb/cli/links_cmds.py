"""`links`, `check`, `export` and `graph`: the cross-link commands.

Thin shells over the index (:mod:`healthkb.index.api`) and the export and
graph formats (:mod:`healthkb.exporting`).  LINK objects come from
``browse.link_json``/``links_payload`` so that `show`, `links`, `export` and
`read` describe a link in exactly the same way.
"""

from __future__ import annotations

import sys
import textwrap
import time
from collections import Counter

import click

from healthkb.cli.browse import links_payload
from healthkb.cli.completion import complete_ref
from healthkb.cli.common import echo, emit, terminal_width, use_color, writing_stdout
from healthkb.cli.options import pass_ctx
from healthkb.exporting import (
    DEFAULT_INDEX_NAME,
    EXPORT_FORMATS,
    GRAPH_FORMATS,
    bulk_lines,
    dot_lines,
    edges_of,
    graph_json_lines,
    jsonl_lines,
    write_output,
    write_lines,
)
from healthkb.render import BOLD, RESET, display_width, fit, table, to_json
from healthkb.text import sanitize_line

TABLE_MAX_WIDTH = 160  # tables never grow wider than this, however wide the terminal
MIN_TEXT_COLUMN = 24  # below this, a link table puts targets on their own lines
MIN_DETAIL_COLUMN = 30  # `check` wraps details only when at least this much room is left


def _bold(text: str, color: bool) -> str:
    return f"{BOLD}{text}{RESET}" if color else text


def _backlinks_json(backlinks) -> list[dict]:
    return [{"id": i, "title": t, "kind": k} for i, t, k in backlinks]


# -- links -------------------------------------------------------------------------


def _link_rows(payload: dict) -> list[tuple[str, str, str, list[str]]]:
    """(link, status, text, target ids) for every outgoing link; the link is
    prev, next, or the related link's number (as `show` and `read` number them).
    An ambiguous link's capped candidates end with "and 1,065 more"."""

    def targets(link: dict) -> list[str]:
        more = link["candidate_count"] - len(link["candidates"])
        return list(link["candidates"]) + ([f"and {more:,} more"] if more > 0 else [])

    rows = []
    for key in ("prev", "next"):
        link = payload[key]
        if link:
            rows.append((key, link["status"], link["text"], targets(link)))
    for number, link in enumerate(payload["related"], 1):
        rows.append((str(number), link["status"], link["text"].rstrip() + "…", targets(link)))
    return rows


def _link_table(payload: dict, width: int) -> str:
    """One row per link when the text still gets a useful column at ``width``;
    otherwise the target ids go on lines of their own under the text, so
    that ids (meant to be copied) are cut only when even that line is too narrow."""
    rows = _link_rows(payload)
    targets = [", ".join(ids) if ids else "—" for *_, ids in rows]
    link_w = max(len("link"), *(len(r[0]) for r in rows))
    status_w = max(len("status"), *(len(r[1]) for r in rows))
    fixed = link_w + status_w + max(len("target"), *map(len, targets)) + 3 * 2
    room = width - fixed
    if room >= MIN_TEXT_COLUMN:
        text_w = min(room, max(len(r[2]) for r in rows))
        cells = [(k, s, fit(t, text_w), target) for (k, s, t, _), target in zip(rows, targets)]
        return table(cells, ["link", "status", "text", "target"], width, shrink=(2, 3))
    cells = []
    for kind, status, text, ids in rows:
        cells.append((kind, status, text))
        marks = ["→ "] + ["" if target.startswith("and ") else "or " for target in ids[1:]]
        cells.extend(("", "", mark + target) for mark, target in zip(marks, ids))
    return table(cells, ["link", "status", "text → target"], width, shrink=(2,))


def _backlink_lines(backlinks, width: int) -> list[str]:
    """"Linked from N articles" and a table: one row per linking article,
    its link kinds joined (an article may link here as next and as related)."""
    kinds: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for source, title, kind in backlinks:
        kinds.setdefault(source, []).append(kind)
        titles[source] = title
    if not kinds:
        return ["No article links here."]
    lines = [f"Linked from {len(kinds)} article{'' if len(kinds) == 1 else 's'}:"]
    rows = [(source, ", ".join(kinds[source]), titles[source]) for source in sorted(kinds)]
    kind_w = max(len("kind"), *(len(k) for _s, k, _t in rows))
    id_w = max(len(s) for s, _k, _t in rows)
    room = width - id_w - kind_w - 2 * 2
    if room >= MIN_TEXT_COLUMN:
        lines.append(table([(s, k, fit(t, room)) for s, k, t in rows], ["id", "kind", "title"], width, shrink=(2, 0)))
    else:
        text_w = max(MIN_TEXT_COLUMN, width - kind_w - 2)
        cells = []
        for source, kind, title in rows:
            cells += [(kind, fit(title, text_w)), ("", f"← {source}")]
        lines.append(table(cells, ["kind", "from"], width, shrink=(1,)))
    return lines


def _links_text(row, payload: dict, backlinks, width: int, color: bool) -> str:
    rows = _link_rows(payload)
    counts = Counter(status for _k, status, _t, _ids in rows)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("resolved", "ambiguous", "missing") if counts[s])
    noun = "link" if len(rows) == 1 else "links"
    counted = f"{len(rows)} outgoing {noun}" + (f": {summary}" if rows else "")
    ident = sanitize_line(row.id)
    lines = [_bold(fit(row.title, width), color)]
    lines += [f"{ident} · {counted}"] if display_width(f"{ident} · {counted}") <= width else [fit(ident, width), counted]
    lines.append("")
    lines.append(_link_table(payload, width) if rows else "(no footer links: no <<:, >>: or teaser lines)")
    lines.append("")
    lines.extend(_backlink_lines(backlinks, width))
    return "\n".join(lines)


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def links(ctx, ref: str, as_json: bool) -> None:
    """Links of REF (prev, next, related) with their status, and its backlinks.

    Each link is resolved (one target), ambiguous (its candidates are
    listed) or missing (not in this knowledge base).

    \b
    Examples:
      healthkb links 000_ec7fe29246c6fc0e
      healthkb links joints/do-you-have --json \\
        | jq '.related[] | select(.status != "resolved")'
    """
    with ctx.open_index() as ix:
        row = ix.resolve(ref)
        payload = links_payload(ix, row)
        backlinks = ix.backlinks(row)
    if as_json:
        emit(to_json({"id": row.id, "title": row.title, **payload, "backlinks": _backlinks_json(backlinks)}))
    else:
        emit(_links_text(row, payload, backlinks, min(terminal_width(), TABLE_MAX_WIDTH), use_color()), pager=True)


# -- check -------------------------------------------------------------------------


def _problem_table(problems, width: int) -> str:
    """kind | article | detail, the detail wrapped in its column; when that
    column would be too narrow for it (or for an id it names), the detail
    goes on lines of its own under the article id instead."""
    rows = [(p.kind, sanitize_line(p.id), sanitize_line(p.detail)) for p in problems]
    kind_w = max(len("kind"), *(len(k) for k, _i, _d in rows))
    id_w = max(len("article"), *(display_width(i) for _k, i, _d in rows))
    room = width - kind_w - id_w - 4
    longest_word = max(display_width(word) for _k, _i, d in rows for word in d.split() or [""])
    if room >= MIN_DETAIL_COLUMN and longest_word <= room:
        cells = []
        for kind, article_id, detail in rows:
            parts = textwrap.wrap(detail, room, break_long_words=False, break_on_hyphens=False) or [""]
            cells.append((kind, article_id, parts[0]))
            cells.extend(("", "", part) for part in parts[1:])
        return table(cells, ["kind", "article", "detail"], width, shrink=(2,))
    room = max(MIN_TEXT_COLUMN, width - kind_w - 2)
    cells = []
    for kind, article_id, detail in rows:
        cells.append((kind, article_id))
        parts = textwrap.wrap(detail, room - 2, break_long_words=False, break_on_hyphens=False)
        cells.extend(("", f"  {part}") for part in parts)
    return table(cells, ["kind", "article and detail"], width, shrink=(1,))


def _problem_json(problem) -> dict:
    found = {"kind": problem.kind, "id": problem.id, "detail": problem.detail}
    if problem.links > 1:  # a line standing for many links: how many, and the first articles
        found["links"] = problem.links
        found["sources"] = list(problem.sources)
    return found


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def check(ctx, as_json: bool) -> None:
    """Report link and file problems; exit 1 if there are any, 0 if none.

    Kinds: missing_prev, missing_next, missing_related, ambiguous_link,
    one_way_nav (A's >>: leads to B but B's <<: does not lead back), self_link,
    weak_teaser (too short to match), duplicate_title, empty_body, encoding
    (not UTF-8, read as cp1252) and skipped (files that are not articles).

    The same unresolved teaser or nav text in 10 or more articles is one line
    that counts them; in --json such a problem also has "links" (how many)
    and "sources" (the first 20 article ids).

    \b
    Examples:
      healthkb check
      healthkb check --json | jq -r \\
        '.problems[] | select(.kind == "missing_next") | .id'
    """
    from healthkb.index.api import all_problems

    with ctx.open_index() as ix:
        problems = all_problems(ix)
        articles = ix.catalog.count()
    if as_json:
        emit(to_json({"problems": [_problem_json(p) for p in problems]}))
    elif problems:
        # Machines read `check --json`; people get a table that fits.
        emit(_problem_table(problems, min(terminal_width(), TABLE_MAX_WIDTH)), pager=True)
        by_kind = Counter(p.kind for p in problems)
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items(), key=lambda item: (-item[1], item[0])))
        echo(f"{len(problems):,} problem{'' if len(problems) == 1 else 's'} ({detail})", err=True)
    else:
        echo(f"no problems in {articles:,} article{'' if articles == 1 else 's'}", err=True)
    if problems:
        raise SystemExit(1)


# -- export and graph --------------------------------------------------------------


def _write(lines, output: str | None, kb_root=None, force: bool = False) -> int:
    if output and output != "-":
        return write_output(output, lines, kb_root=kb_root, force=force)
    with writing_stdout():
        return write_lines(sys.stdout, lines)


def _export_records(ix, skipped: list[str]):
    """One record per article, streamed from the catalog; files that vanished
    since indexing are left out and their ids collected in ``skipped``."""
    for row in ix.catalog.iter_articles():
        body = ix.body(row)
        if body is None:
            skipped.append(row.id)
            continue
        yield {
            "id": row.id, "title": row.title, "path": row.path, "body": body,
            **links_payload(ix, row),
            "sha256": row.sha256, "words": row.words,
        }


@click.command()
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl", show_default=True,
              help="jsonl: one article per line; bulk: _bulk action and document line pairs.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout (-), replacing it only once complete.")
@click.option("--force", is_flag=True, help="Write FILE even when it is an article of the KB.")
@click.option("--index-name", default=DEFAULT_INDEX_NAME, show_default=True, metavar="NAME",
              help="The _index named in --format bulk action lines.")
@pass_ctx
def export(ctx, fmt: str, output: str | None, force: bool, index_name: str) -> None:
    """Export every article as JSON lines, e.g. for a search server.

    Each article is one object: {schema, id, title, path, body, prev, next,
    related, sha256, words}, where prev/next/related are LINK objects as in
    `links --json` ({kind, text, status, id, title, candidates}) and path is
    relative to the KB.  --format bulk writes what the OpenSearch or
    Elasticsearch _bulk API takes: an {"index": {"_index", "_id"}} action line
    before each article, the article id as _id (so loading again replaces
    documents). Articles are streamed, never all held in memory.

    \b
    Examples:
      healthkb export > kb.jsonl
      healthkb export --format bulk -o kb.ndjson
      curl -H 'Content-Type: application/x-ndjson' -XPOST \\
           'localhost:9200/_bulk' --data-binary @kb.ndjson
    """
    started = time.perf_counter()
    skipped: list[str] = []
    with ctx.open_index() as ix:
        records = _export_records(ix, skipped)
        lines = bulk_lines(records, index_name) if fmt == "bulk" else jsonl_lines(records)
        count = _write(lines, output, ix.root, force)
    articles = count // 2 if fmt == "bulk" else count
    where = f" to {sanitize_line(output)}" if output and output != "-" else ""
    echo(f"exported {articles:,} article{'' if articles == 1 else 's'}{where} ({time.perf_counter() - started:.2f} s)", err=True)
    if skipped:
        echo(f"left out {len(skipped)} whose file is gone (run `healthkb reindex`): {', '.join(skipped[:5])}", err=True)


@click.command()
@click.option("--format", "fmt", type=click.Choice(GRAPH_FORMATS), default="dot", show_default=True,
              help="dot: Graphviz; json: {schema, nodes, edges}.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout (-), replacing it only once complete.")
@click.option("--missing", is_flag=True, help="Include links whose target is not in the KB.")
@click.option("--force", is_flag=True, help="Write FILE even when it is an article of the KB.")
@pass_ctx
def graph(ctx, fmt: str, output: str | None, missing: bool, force: bool) -> None:
    """The cross-link graph: articles as nodes, links as edges.

    Nodes are {id, title}; edges {source, target, kind, status, text}, one per
    resolved link and one per candidate of an ambiguous link.  Links to
    articles not in the KB are left out unless --missing: then a JSON edge
    has "target": null, and DOT draws a dashed edge to a grey placeholder
    (one per distinct missing article).  In DOT, nav links (prev/next) are
    dark and solid, related links grey, ambiguous ones dotted.

    \b
    Examples:
      healthkb graph | dot -Tsvg > kb.svg
      healthkb graph --format json -o graph.json
    """
    with ctx.open_index() as ix:
        nodes = ((row.id, row.title) for row in ix.catalog.iter_articles())
        edges = (edge for row in ix.catalog.iter_articles() for edge in edges_of(row.id, ix.links(row), missing=missing))
        lines = dot_lines(nodes, edges) if fmt == "dot" else graph_json_lines(nodes, edges)
        _write(lines, output, ix.root, force)
    if output and output != "-":
        echo(f"wrote the graph to {sanitize_line(output)}", err=True)


COMMANDS = [links, check, export, graph]
