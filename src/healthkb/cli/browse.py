"""`show` and `list`: reading articles."""

from __future__ import annotations

import click

import textwrap

from healthkb.cli.completion import complete_ref
from healthkb.cli.common import MAX_WIDTH_OPTION, echo, emit, terminal_width, text_width, use_color
from healthkb.cli.options import pass_ctx
from healthkb.errors import NotFoundError
from healthkb.render import BOLD, DIM, DISCLAIMER, RESET, display_width, fit, middle_cut, table, to_json, two_column, wrap
from healthkb.text import sanitize, sanitize_line

LIST_MAX_WIDTH = 120  # a list wider than this is no easier to read


def link_json(link, titles: dict[str, str]) -> dict:
    """SPEC's LINK object: {text, status, id, candidates} (+ title of the target).

    ``candidates`` holds at most links.MAX_CANDIDATES ids; ``candidate_count``
    says how many articles matched."""
    target = link.targets[0] if link.status == "resolved" else None
    return {
        "kind": link.kind,
        "text": link.text,
        "status": link.status,
        "id": target,
        "title": titles.get(target) if target else None,
        "candidates": list(link.targets),
        "candidate_count": link.candidate_count,
    }


def links_payload(ix, row) -> dict:
    links = ix.links(row)
    titles = ix.titles({t for link in links for t in link.targets})
    prev = next((link for link in links if link.kind == "prev"), None)
    nxt = next((link for link in links if link.kind == "next"), None)
    return {
        "prev": link_json(prev, titles) if prev else None,
        "next": link_json(nxt, titles) if nxt else None,
        "related": [link_json(link, titles) for link in links if link.kind == "related"],
    }


def see_also(payload: dict, backlinks: int, article_id: str, width: int, color: bool) -> list[str]:
    """The "See also" block under an article: prev, next, related, backlink count."""

    def target(link: dict) -> str:
        if link["status"] == "resolved":
            return link["id"]
        if link["status"] == "ambiguous":
            shown = ", ".join(link["candidates"][:3])
            more = link["candidate_count"] - min(len(link["candidates"]), 3)
            return f"(ambiguous: {shown}{f' and {more:,} more' if more > 0 else ''})"
        return "(not in this knowledge base)"

    marks, pairs = [], []
    for arrow, key in (("← prev", "prev"), ("→ next", "next")):
        if payload[key]:
            marks.append(arrow)
            pairs.append((payload[key]["title"] or payload[key]["text"], target(payload[key])))
    for number, link in enumerate(payload["related"], 1):
        marks.append(f"{number:>6}")
        pairs.append((link["title"] or (link["text"].rstrip() + "…"), target(link)))
    rows = two_column(pairs, width, indent=" " * 10, dim=color)
    per_pair = len(rows) // max(len(pairs), 1)
    lines = [f"{BOLD}See also{RESET}" if color else "See also"] if pairs else []
    for n, mark in enumerate(marks):
        block = rows[n * per_pair : (n + 1) * per_pair]
        block[0] = f"  {mark}  {block[0][10:]}"
        lines.extend(block)
    if backlinks:
        noun = "article" if backlinks == 1 else "articles"
        command = f"healthkb links {sanitize_line(article_id)}"
        if display_width(command) > width - 2:  # the id alone is too long to name
            command = "healthkb links and this article's id"
        text = f"Linked from {backlinks} {noun} — {command}"
        lines += ["  " + line for line in textwrap.wrap(text, width - 2, break_long_words=False, break_on_hyphens=False)]
    return lines


def heading_lines(row, width: int, color: bool) -> list[str]:
    """An article's title (wrapped, bold on a terminal), then its id and
    file: on one line when they fit, else the file on its own line,
    shortened in the middle; the file is left out when it is just the id
    with ".txt"."""
    title = sanitize_line(row.title)
    lines = [f"{BOLD}{part}{RESET}" if color else part for part in textwrap.wrap(title, width) or [title]]
    ident, path = sanitize_line(row.id), sanitize_line(row.path)
    if path == f"{ident}.txt":
        lines.append(fit(ident, width))
    elif display_width(f"{ident} · {path}") <= width:
        lines.append(f"{ident} · {path}")
    else:
        lines += [fit(ident, width), f"file: {middle_cut(path, width - 6)}"]
    return lines


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@click.option("--raw", is_flag=True, help="Print the article's text as stored (control characters removed).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--no-pager", is_flag=True, help="Never page the output.")
@click.option("--width", type=click.IntRange(20, MAX_WIDTH_OPTION), metavar="N", help=f"Wrap the body to N columns (20 to {MAX_WIDTH_OPTION}).")
@pass_ctx
def show(ctx, ref: str, raw: bool, as_json: bool, no_pager: bool, width: int | None) -> None:
    """Show an article with its links (REF: id, title or prefix)."""
    with ctx.open_index() as ix:
        row = ix.resolve(ref)
        if raw:
            text = ix.raw_text(row)
            if text is None:
                raise NotFoundError(f"the file of {row.id} is gone: {row.path}")
            emit(sanitize(text).rstrip("\n"), pager=not no_pager)
            return
        body = ix.body(row)
        if body is None:
            raise NotFoundError(f"the file of {row.id} is gone: {row.path}", hint="run `healthkb reindex`")
        payload = links_payload(ix, row)
        backlinks = ix.backlinks(row)
    if as_json:
        emit(to_json({"id": row.id, "title": row.title, "path": row.path, "body": body, **payload,
                      "backlinks": [{"id": i, "title": t, "kind": k} for i, t, k in backlinks]}))
        return
    color = use_color()
    columns = text_width(width)
    lines = [*heading_lines(row, columns, color), ""]
    lines.append(wrap(body, columns) if body.strip() else "(this article has no body text)")
    extra = see_also(payload, len({i for i, _t, _k in backlinks}), row.id, columns, color)
    if extra:
        lines += ["", *extra]
    lines += ["", f"{DIM}{DISCLAIMER}{RESET}" if color else DISCLAIMER]
    emit("\n".join(lines), pager=not no_pager)


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--sort", type=click.Choice(["id", "title", "mtime"]), default="id", show_default=True, help="Order of the list.")
@pass_ctx
def list_articles(ctx, as_json: bool, sort: str) -> None:
    """List every article: id, title and length in words."""
    with ctx.open_index() as ix:
        rows = list(ix.catalog.iter_articles(sort))
    if as_json:
        emit(to_json({"articles": [{"id": r.id, "title": r.title, "path": r.path, "words": r.words} for r in rows]}))
        return
    if not rows:
        raise NotFoundError("this knowledge base has no articles yet", hint="add some with `healthkb add FILE...`")
    width = min(terminal_width(), LIST_MAX_WIDTH)
    emit(table([(r.id, r.title, r.words) for r in rows], ["id", "title", "words"], width, shrink=((1, 24), (0, 30))), pager=True)
    echo(f"{len(rows):,} articles", err=True)


COMMANDS = [show, list_articles]
