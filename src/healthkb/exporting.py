"""Formats for `export` and `graph`, and writing an output file safely.

Owns:
- the export line formats: ``jsonl`` (one article object per line) and
  ``bulk`` (the action/document line pairs of the OpenSearch/Elasticsearch
  ``_bulk`` API), built from article records the caller streams in;
- the cross-link graph: :class:`Edge` records from resolved links, and their
  rendering as Graphviz DOT or as one streamed JSON document;
- :func:`write_output` (``-o FILE``) and :func:`write_atomic`: a regular file
  is written to a temporary file beside the target and renamed over it only
  once everything was written, so an error half way never leaves a truncated
  file, nor touches the file that was there before; a FIFO or device is
  written to, never replaced; an article of the KB is never overwritten.

Everything here works on iterables and yields lines, so a KB of any size is
exported without holding it in memory.  Pure apart from the writing functions;
no click, no printing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from healthkb.errors import BadInputError, HealthKBError, storage_failure
from healthkb.kb import new_file_mode
from healthkb.links import AMBIGUOUS, MISSING, RESOLVED, Link
from healthkb.render import JSON_SCHEMA
from healthkb.text import match_key, sanitize_line, shorten

EXPORT_FORMATS = ("jsonl", "bulk")
GRAPH_FORMATS = ("dot", "json")
DEFAULT_INDEX_NAME = "healthkb"
DOT_LABEL_CHARS = 60  # longer titles are shortened in graph labels
# Node names of placeholders for missing targets.  An article id is a path
# relative to the KB root, so it never starts with "/": no clash is possible.
MISSING_NODE_PREFIX = "/missing/"


def _compact(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# -- export ----------------------------------------------------------------------


def jsonl_lines(records: Iterable[dict]) -> Iterator[str]:
    """One JSON object per record, ``"schema": 1`` first (SPEC §4)."""
    for record in records:
        yield _compact({"schema": JSON_SCHEMA, **record})


def bulk_lines(records: Iterable[dict], index: str = DEFAULT_INDEX_NAME) -> Iterator[str]:
    """The ``_bulk`` body: an ``index`` action naming the article id, then the document.

    Re-loading the same export replaces documents instead of duplicating
    them, because each article id becomes the document ``_id``.
    """
    for record in records:
        yield _compact({"index": {"_index": index, "_id": record["id"]}})
        yield _compact({"schema": JSON_SCHEMA, **record})


# -- graph ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edge:
    """One link of the graph export: from an article to another (or to nothing)."""

    source: str
    target: str | None  # None: the link is missing (no article in the KB)
    kind: str  # prev | next | related
    status: str  # resolved | ambiguous | missing
    text: str  # the nav text or teaser as written


def edges_of(source: str, links: Iterable[Link], *, missing: bool = False) -> Iterator[Edge]:
    """Graph edges of one article: one per resolved link, one per candidate of an
    ambiguous link, and (when ``missing``) one with no target per missing link."""
    for link in links:
        if link.status == MISSING:
            if missing:
                yield Edge(source, None, link.kind, MISSING, link.text)
            continue
        for target in link.targets:
            yield Edge(source, target, link.kind, link.status, link.text)


def edge_json(edge: Edge) -> dict:
    return {"source": edge.source, "target": edge.target, "kind": edge.kind, "status": edge.status, "text": edge.text}


def graph_json_lines(nodes: Iterable[tuple[str, str]], edges: Iterable[Edge]) -> Iterator[str]:
    """``{schema, nodes: [{id, title}], edges: [{source, target, kind, status, text}]}``.

    One JSON document, streamed: one node or edge per line.  ``nodes`` is
    consumed before ``edges`` is first touched, so both may be generators
    reading the same catalog.
    """
    yield f'{{"schema":{JSON_SCHEMA},"nodes":['
    yield from _json_items({"id": node_id, "title": title} for node_id, title in nodes)
    yield '],"edges":['
    yield from _json_items(edge_json(edge) for edge in edges)
    yield "]}"


def _json_items(objects: Iterable[dict]) -> Iterator[str]:
    previous = None
    for obj in objects:
        if previous is not None:
            yield previous + ","
        previous = _compact(obj)
    if previous is not None:
        yield previous


@functools.lru_cache(maxsize=65536)  # ids recur once per edge; quoting them again is wasted work
def dot_quote(text: str) -> str:
    """A DOT quoted string.  Backslashes are doubled, so a title can neither end
    the string early nor smuggle a label escape such as ``\\N`` or ``\\l``."""
    clean = sanitize_line(text)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


_EDGE_STYLE = {
    # (kind group, status) → DOT attributes.  Nav links are the reading order,
    # so they are drawn darker and thicker than "see also" links.
    ("nav", RESOLVED): 'color="#1f4e79", penwidth=1.6',
    ("nav", AMBIGUOUS): 'color="#1f4e79", style=dotted',
    ("nav", MISSING): 'color="#7f7f7f", style=dashed',
    ("related", RESOLVED): 'color="#8c8c8c"',
    ("related", AMBIGUOUS): 'color="#8c8c8c", style=dotted',
    ("related", MISSING): 'color="#bfbfbf", style=dashed',
}


def dot_lines(nodes: Iterable[tuple[str, str]], edges: Iterable[Edge], name: str = "healthkb") -> Iterator[str]:
    """A Graphviz digraph: one box per article (label: its title; the SVG
    tooltip shows the id), solid edges for resolved links, dotted ones to each
    candidate of an ambiguous link, and dashed ones to a grey placeholder for
    each distinct missing target (only for the missing edges passed in).
    Every edge carries ``class="KIND STATUS"`` for styling the SVG."""
    yield f"digraph {dot_quote(name)} {{"
    yield '  graph [fontname="Helvetica", overlap=false];'
    yield '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];'
    yield '  edge [arrowsize=0.6];'
    for node_id, title in nodes:
        label = dot_quote(shorten(sanitize_line(title), DOT_LABEL_CHARS))
        yield f"  {dot_quote(node_id)} [label={label}, tooltip={dot_quote(node_id)}];"
    placeholders: dict[str, str] = {}  # missing text key → node name
    for edge in edges:
        group = "related" if edge.kind == "related" else "nav"
        style = _EDGE_STYLE[(group, edge.status)]
        if edge.target is None:
            # Articles that name the same absent article share one placeholder,
            # which shows at a glance which missing article is most wanted.
            key = match_key(edge.text) or edge.text
            target = placeholders.get(key)
            if target is None:
                target = f"{MISSING_NODE_PREFIX}{len(placeholders) + 1}"
                placeholders[key] = target
                shown = shorten(sanitize_line(edge.text), DOT_LABEL_CHARS) + ("…" if group == "related" else "")
                yield (
                    f"  {dot_quote(target)} [label={dot_quote(shown)}, shape=note, style=dashed, "
                    f'color="#bfbfbf", fontcolor="#7f7f7f", tooltip="not in this knowledge base"];'
                )
        else:
            target = edge.target
        yield f"  {dot_quote(edge.source)} -> {dot_quote(target)} [class={dot_quote(edge.kind + ' ' + edge.status)}, {style}];"
    yield "}"


# -- writing ----------------------------------------------------------------------


def write_lines(stream, lines: Iterable[str]) -> int:
    """Write each line and a newline to an open text stream; return the count."""
    count = 0
    for line in lines:
        stream.write(line)
        stream.write("\n")
        count += 1
    return count


def write_output(path: str | os.PathLike, lines: Iterable[str], *, kb_root: Path | None = None, force: bool = False) -> int:
    """Write ``lines`` to the file ``-o`` names; return how many were written.

    A regular file (or a new one) is written atomically (:func:`write_atomic`).
    A FIFO, a device or a socket is opened and written to, never replaced: it
    is where the output is meant to go (``-o /dev/stdout``, a named pipe).
    A path inside the knowledge base ``kb_root`` that is, or would be read
    as, an article is refused unless ``force``: exporting over an article
    loses it, and the next scan would index JSON as one.
    """
    target = os.path.realpath(path)
    if kb_root is not None and not force and _read_as_article(target, os.path.realpath(kb_root)):
        raise BadInputError(
            f"cannot write {os.fsdecode(path)}: it is an article of the knowledge base",
            hint="write somewhere outside the knowledge base, or add --force to replace it",
        )
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = None
    if mode is None or stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return write_atomic(target, lines, shown=path)
    try:
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            return write_lines(handle, lines)
    except OSError as exc:
        failure = storage_failure(exc, path)
        raise failure or BadInputError(f"cannot write {os.fsdecode(path)}: {exc.strerror or exc}") from exc


def _read_as_article(target: str, kb_root: str) -> bool:
    """True when the scan of ``kb_root`` would read ``target`` as an article."""
    if not (target.startswith(kb_root.rstrip(os.sep) + os.sep)):
        return False
    parts = os.path.relpath(target, kb_root).split(os.sep)
    return parts[-1].lower().endswith(".txt") and not any(part.startswith(".") for part in parts)


def write_atomic(path: str | os.PathLike, lines: Iterable[str], *, shown: str | os.PathLike | None = None) -> int:
    """Write ``lines`` to ``path`` all or nothing; return how many were written.

    The lines go to a temporary file in the target's folder (same file
    system, so the final rename is atomic), which is fsynced and renamed over
    ``path`` only after the last line.  On any error, including Ctrl-C, the
    temporary file is removed and ``path`` is left as it was.  A symlink is
    written through (its target is replaced), as ``> path`` in a shell would.
    ``shown`` is the name to use in messages (what the user typed).
    """
    shown = os.fsdecode(shown if shown is not None else path)
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise BadInputError(f"cannot write {shown}: it is a folder")
    folder = target.parent
    if not folder.is_dir():
        raise BadInputError(f"cannot write {shown}: the folder {folder} does not exist")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = new_file_mode()
    try:
        handle_fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise _write_error(exc, shown) from exc
    try:
        with os.fdopen(handle_fd, "w", encoding="utf-8", newline="\n") as handle:
            count = write_lines(handle, lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise _write_error(exc, shown) from exc
        raise
    return count


def _write_error(exc: OSError, shown: str) -> HealthKBError:
    # A full disk or lost permissions name the output file (exit 3), not the temporary one.
    failure = storage_failure(OSError(exc.errno, exc.strerror), shown)
    return failure or BadInputError(f"cannot write {shown}: {exc.strerror or exc}")

