"""`init`, `add`, `reindex` and `stats`: looking after a KB."""

from __future__ import annotations

import time
from pathlib import Path

import click

from healthkb.cli.common import echo, emit, notice, progress_printer, terminal_width
from healthkb.cli.options import pass_ctx
from healthkb.errors import LockTimeoutError
from healthkb.render import fit, middle_cut, to_json, wrap


def _report_json(report) -> dict:
    return {
        "added": len(report.added), "updated": len(report.updated), "removed": len(report.removed),
        "unchanged": report.unchanged,
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        "seconds": round(report.seconds, 3), "full": report.full,
    }


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _print_skipped(report) -> None:
    width = terminal_width()
    for item in report.skipped[:20]:
        echo(fit(f"  skipped {item.path}: {item.reason}", width), err=True)
    if len(report.skipped) > 20:
        echo(f"  … and {len(report.skipped) - 20} more (healthkb check lists them all)", err=True)


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def init(ctx, folder: Path | None) -> None:
    """Make FOLDER (default: --kb, else the current folder) a knowledge base."""
    from healthkb.kb import init_kb

    from healthkb.corpus import scan_kb

    result = init_kb(folder or Path(ctx.kb_path or "."))
    width = terminal_width()
    if result.already:
        emit(wrap(f"{result.root} is already a knowledge base", width))
        return
    articles = len(scan_kb(result.root).files)
    if articles:
        then = f"It holds {_plural(articles, 'article')}: try healthkb search WORDS, or healthkb check."
    else:
        then = "Add articles with: healthkb add FILE..."
    emit(wrap(f"Made {result.root} a knowledge base. {then}", width))


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Replace articles that already exist in the KB.")
@click.option("--into", default="", metavar="FOLDER", help="Copy into this folder of the KB.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def add(ctx, files: tuple[str, ...], force: bool, into: str, as_json: bool) -> None:
    """Copy article files into the KB and index them at once."""
    from healthkb.adding import copy_all, plan_copies
    from healthkb.index.api import reindex

    kb = ctx.kb
    plans = plan_copies(kb.root, list(files), force=force, into=into)
    started = time.perf_counter()
    # Bring the index up to date first, so that the update below is about the
    # new files alone: its counts and "links brought to life" are theirs, not
    # those of a first build of the whole KB.
    ctx.open_index().close()
    copy_all(plans)
    try:
        # Only the copies changed since the index was made current above.
        touched = [plan.target.relative_to(kb.root).as_posix() for plan in plans]
        report = reindex(kb, progress=progress_printer(), touched=touched)
    except LockTimeoutError as exc:
        # The files are in the KB now: say so, or the user runs `add` again
        # and is told they already exist.
        raise LockTimeoutError(
            f"copied {_plural(len(plans), 'article')} into the knowledge base, but did not index "
            f"{'it' if len(plans) == 1 else 'them'}: {exc.message}",
            hint="the next healthkb command indexes them (or run `healthkb reindex`)",
        ) from exc
    report.seconds = time.perf_counter() - started
    for message in report.notices:
        notice(message)
    if as_json:
        payload = _report_json(report)
        payload["links"] = {i: {"resolved": r, "total": t} for i, (r, t) in sorted(report.link_summary.items())}
        payload["revived"] = report.revived
        emit(to_json(payload))
        return
    resolved = sum(r for r, _t in report.link_summary.values())
    total = sum(t for _r, t in report.link_summary.values())
    count = len(plans)
    pronoun = "it resolves" if count == 1 else "they resolve"
    was = "was" if report.revived == 1 else "were"
    revived = f" and {_plural(report.revived, 'link')} elsewhere that {was} missing" if report.revived else ""
    verb = "Added" if not any(p.replaces for p in plans) else "Added or replaced"
    summary = f"{verb} {_plural(count, 'article')}; {pronoun} {resolved} of {_plural(total, 'link')}{revived}. ({report.seconds:.2f} s)"
    emit(wrap(summary, terminal_width()))
    _print_skipped(report)


@click.command()
@click.option("--full", is_flag=True, help="Rebuild the index from scratch.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def reindex(ctx, full: bool, as_json: bool) -> None:
    """Update (or rebuild) the index and summarise the changes."""
    from healthkb.index.api import reindex as run_reindex

    report = run_reindex(ctx.kb, full=full, progress=progress_printer())
    for message in report.notices:
        notice(message)
    if as_json:
        emit(to_json(_report_json(report)))
        return
    what = "Rebuilt the index" if report.full else "Updated the index"
    rate = f", {len(report.added) / report.seconds:,.0f} articles/s" if report.full and report.seconds > 0 and report.added else ""
    emit(wrap(
        f"{what}: {len(report.added):,} added, {len(report.updated):,} updated, {len(report.removed):,} removed, "
        f"{report.unchanged:,} unchanged, {len(report.skipped):,} skipped ({report.seconds:.2f} s{rate})",
        terminal_width(),
    ))
    _print_skipped(report)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def stats(ctx, as_json: bool) -> None:
    """Counts and sizes of the KB and its index."""
    from healthkb.index.api import stats as collect, updated_ago

    with ctx.open_index() as ix:
        found = collect(ix)
    if as_json:
        emit(to_json({
            "kb": found.kb, "index": found.index_dir, "articles": found.articles, "words": found.words,
            "skipped": found.skipped, "links": found.links, "index_bytes": found.index_bytes,
            "corpus_bytes": found.corpus_bytes, "updated_at": found.updated_at,
            "index_schema": found.schema_version, "shards": found.shards,
        }))
        return
    links = ", ".join(f"{n:,} {status}" for status, n in sorted(found.links.items())) or "none"
    ratio = f" ({found.index_bytes / found.corpus_bytes:.2f} × the articles)" if found.corpus_bytes else ""
    rows = [
        ("knowledge base", found.kb), ("index", found.index_dir), ("articles", f"{found.articles:,}"),
        ("words", f"{found.words:,}"), ("links", links), ("skipped files", f"{found.skipped:,}"),
        ("index size", f"{found.index_bytes / 1e6:.1f} MB{ratio}"),
        ("last update", updated_ago(found.updated_at)), ("index schema", str(found.schema_version)),
    ]
    name_w = max(len(name) for name, _value in rows)
    room = terminal_width() - name_w - 2
    paths = ("knowledge base", "index")
    emit("\n".join(
        f"{name:<{name_w}}  {middle_cut(value, room) if name in paths else fit(value, room)}" for name, value in rows
    ))


COMMANDS = [init, add, reindex, stats]
