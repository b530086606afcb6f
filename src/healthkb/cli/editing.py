"""`edit` and `new`: change an article in your editor, then index it at once.

The editor is ``$VISUAL``, else ``$EDITOR``, else ``vi`` (as git picks it).
Whatever goes wrong in the editor leaves the KB as it was: an editor that
cannot start, that exits non-zero (vim's ``:cq``), that deletes the file or
leaves it empty, gets the previous text put back and a clear message; a new
article left as its template is not added.  While the editor runs, Ctrl-C
is the editor's (as in git), not a reason to stop healthkb half-way.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import click

from healthkb.cli.common import emit, notice, terminal_width
from healthkb.cli.options import pass_ctx
from healthkb.cli.completion import complete_ref
from healthkb.errors import EXIT_INTERRUPTED, BadInputError, HealthKBError
from healthkb.render import wrap
from healthkb.text import sanitize_line, slugify

TEMPLATE_BODY = "Write the article here, in plain paragraphs. The body's last line ends with a space and a bar. |"


class EditorFailed(BadInputError):
    """The editor could not run or gave up; the article was left as it was."""


class EditorInterrupted(HealthKBError):
    exit_code = EXIT_INTERRUPTED


def editor_command() -> list[str]:
    for name in ("VISUAL", "EDITOR"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError:
                raise EditorFailed(f"cannot read ${name}: {value!r}", hint="set it to a command, e.g. EDITOR=nano") from None
            return words
    return ["vi"]


def run_editor(path: Path) -> None:
    """Open ``path`` in the editor and wait; raise EditorFailed when it did not
    finish well (the caller puts the file back)."""
    command = editor_command()
    shown = " ".join(command)
    if shutil.which(command[0]) is None:
        raise EditorFailed(f"the editor `{shown}` was not found", hint="set $VISUAL or $EDITOR, e.g. EDITOR=nano")
    # Ctrl-C in the editor is the editor's business: it shares our terminal's
    # process group, so without this healthkb would die under it.
    # (Ignored only once it has started: it must not inherit the ignoring.)
    try:
        process = subprocess.Popen([*command, str(path)])
    except OSError as exc:
        raise EditorFailed(f"the editor `{shown}` could not start: {exc.strerror}") from None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    if code < 0 and -code == signal.SIGINT:
        raise EditorInterrupted("the editor was interrupted")
    if code != 0:
        raise EditorFailed(f"the editor `{shown}` exited with status {code}")


def link_slots(ix, article_id: str) -> dict[tuple[str, int], str]:
    """Status of each of an article's links by its place in the footer:
    ("prev", 0), ("next", 0), ("related", 1), ("related", 2)..."""
    row = ix.catalog.article(article_id)
    slots: dict[tuple[str, int], str] = {}
    for link in ix.links(row) if row is not None else ():
        place = sum(1 for kind, _n in slots if kind == link.kind) if link.kind == "related" else 0
        slots[(link.kind, place)] = link.status
    return slots


def link_changes(before: dict, after: dict) -> str:
    """"now resolves 2 more links; 1 became missing", or how they stand."""
    parts = []
    more = sum(1 for slot, status in after.items() if status == "resolved" and before.get(slot) != "resolved")
    if more:
        parts.append(f"now resolves {more} more link{'' if more == 1 else 's'}")
    for status in ("missing", "ambiguous"):
        became = sum(1 for slot, now in after.items() if now == status and before.get(slot) != status)
        if became:
            parts.append(f"{became} became {status}")
    gone = sum(1 for slot in before if slot not in after)
    if gone:
        parts.append(f"{gone} link{'' if gone == 1 else 's'} removed")
    if parts:
        return "; ".join(parts)
    resolved = sum(1 for status in after.values() if status == "resolved")
    return f"its links are as they were ({resolved} of {len(after)} resolve)"


def _check_result(path: Path, shown: str) -> None:
    if not path.exists():
        raise EditorFailed(f"the editor deleted {shown}")
    if not path.read_bytes().strip():
        raise EditorFailed(f"{shown} was left empty")


def _say(text: str) -> None:
    emit(wrap(text, terminal_width()))


@click.command()
@click.argument("ref", shell_complete=complete_ref)
@pass_ctx
def edit(ctx, ref: str) -> None:
    """Open REF in $VISUAL or $EDITOR (else vi), then index it and say what
    changed in its links.  If the editor fails, deletes the file or leaves
    it empty, the article is put back as it was."""
    from healthkb.index.api import reindex

    with ctx.open_index() as ix:
        row = ix.resolve(ref)
        before = link_slots(ix, row.id)
    path = ctx.kb.root / row.path
    shown = sanitize_line(row.id)
    try:
        original = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {sanitize_line(row.path)}: {exc.strerror}") from None
    try:
        run_editor(path)
        _check_result(path, shown)
    except HealthKBError as exc:
        if not path.exists() or path.read_bytes() != original:
            path.write_bytes(original)
            exc.message += "; put its previous text back"
        else:
            exc.message += f"; {shown} is unchanged"
        raise
    if path.read_bytes() == original:
        _say(f"No changes to {shown}.")
        return
    report = reindex(ctx.kb, touched=[row.path])
    for message in report.notices:
        notice(message)
    with ctx.open_index() as ix:
        after = link_slots(ix, row.id)
        title = ix.catalog.article(row.id).title if ix.catalog.article(row.id) else row.title
    renamed = f' Its title is now "{sanitize_line(title)}".' if title != row.title else ""
    elsewhere = f" {report.revived} link{'' if report.revived == 1 else 's'} elsewhere now find it." if report.revived else ""
    _say(f"Saved {shown}: {link_changes(before, after)}.{renamed}{elsewhere}")


@click.command()
@click.argument("title")
@click.option("--into", default="", metavar="FOLDER", help="Create it in this folder of the KB.")
@pass_ctx
def new(ctx, title: str, into: str) -> None:
    """Create an article titled TITLE from a template (body, empty footer),
    open it in your editor, then index it.  Left as the template, or empty,
    it is not added."""
    from healthkb.index.api import reindex

    clean = sanitize_line(title)
    if not clean:
        raise BadInputError("the title is empty")
    parts = Path(into).parts if into else ()
    if any(part in ("..", "") for part in parts) or Path(into).is_absolute():
        raise BadInputError(f"--into must be a folder inside the knowledge base: {sanitize_line(into)}")
    relative = Path(*parts, f"{slugify(clean)}.txt").as_posix()
    path = ctx.kb.root / relative
    if path.exists():
        raise BadInputError(f"{relative} already exists", hint=f"open it with `healthkb edit {relative[:-4]}`")
    folder = path.parent
    template = f"# {clean}\n{TEMPLATE_BODY}\n"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(template, encoding="utf-8")
    try:
        run_editor(path)
        _check_result(path, relative)
    except HealthKBError as exc:
        path.unlink(missing_ok=True)
        exc.message += "; nothing was added"
        raise
    if path.read_text(encoding="utf-8", errors="replace") == template:
        path.unlink()
        _say(f"{relative} was left as the template; nothing was added.")
        return
    report = reindex(ctx.kb, touched=[relative])
    for message in report.notices:
        notice(message)
    resolved, total = next(iter(report.link_summary.values()), (0, 0))
    elsewhere = f" {report.revived} link{'' if report.revived == 1 else 's'} elsewhere now find it." if report.revived else ""
    _say(f"Added {relative[:-4]}: it resolves {resolved} of {total} link{'' if total == 1 else 's'}.{elsewhere}")


COMMANDS = [edit, new]
