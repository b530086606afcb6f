"""Turning results into text for people and JSON for programs.

Pure functions that return strings; the CLI decides where they go.  Every
string that came from an article file is sanitised again here, at the last
moment, so no terminal control sequence can reach the screen whatever path
it took.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Sequence

from healthkb.text import sanitize, sanitize_line, shorten

JSON_SCHEMA = 1
BOLD, RESET = "\x1b[1m", "\x1b[0m"
DIM = "\x1b[2m"
DISCLAIMER = "General health information, not medical advice."


def to_json(payload: dict | list) -> str:
    """One JSON document, UTF-8 (not \\u escapes), with the schema key first."""
    if isinstance(payload, dict) and "schema" not in payload:
        payload = {"schema": JSON_SCHEMA, **payload}
    return json.dumps(payload, ensure_ascii=False, indent=2)


def to_jsonl(objects: Iterable[dict]) -> Iterable[str]:
    for obj in objects:
        yield json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """A plain table (tabulate, imported here only: it is slow to import)."""
    from tabulate import tabulate

    clean = [[sanitize_line(str(cell)) if isinstance(cell, str) else cell for cell in row] for row in rows]
    return tabulate(clean, headers=list(headers), tablefmt="simple", disable_numparse=True)


def wrap(text: str, width: int, indent: str = "") -> str:
    """Wrap each paragraph of ``text`` to ``width`` columns; blank lines kept."""
    out = []
    for paragraph in sanitize(text).split("\n"):
        if not paragraph.strip():
            out.append("")
            continue
        out.append(
            textwrap.fill(
                paragraph.strip(), width=max(20, width), initial_indent=indent, subsequent_indent=indent,
                break_long_words=True, break_on_hyphens=False,
            )
        )
    return "\n".join(out)


def wrap_segments(
    segments: Iterable[tuple[str, bool]], width: int, indent: str = "", color: bool = False, max_lines: int = 2
) -> list[str]:
    """Wrap snippet segments by their visible width; highlighted words bold when ``color``."""
    words: list[tuple[str, bool, bool]] = []  # (word, highlighted, glued to the previous word)
    open_end = False  # did the previous segment end mid-word?
    for text, highlighted in segments:
        clean = sanitize(text).replace("\n", " ")
        glued = open_end and not clean[:1].isspace()
        for n, word in enumerate(clean.split()):
            words.append((word, highlighted, glued and n == 0))
        open_end = bool(clean) and not clean[-1:].isspace()
    lines: list[list[tuple[str, bool, bool]]] = [[]]
    used = 0
    room = max(10, width - len(indent))
    for word, highlighted, glued in words:
        extra = len(word) + (0 if glued or not lines[-1] else 1)
        if lines[-1] and used + extra > room and not glued:
            if len(lines) == max_lines:
                lines[-1].append(("…", False, True))
                break
            lines.append([])
            used, extra = 0, len(word)
        lines[-1].append((word, highlighted, glued))
        used += extra
    rendered = []
    for line in lines:
        parts = []
        for n, (word, highlighted, glued) in enumerate(line):
            if n and not glued:
                parts.append(" ")
            parts.append(f"{BOLD}{word}{RESET}" if highlighted and color else word)
        rendered.append(indent + "".join(parts))
    return rendered


def two_column(pairs: Sequence[tuple[str, str]], width: int, indent: str = "", dim: bool = False) -> list[str]:
    """Label and id side by side when every pair fits in ``width``, else the id
    under its label.  Ids are never shortened: they are meant to be copied."""
    if not pairs:
        return []
    id_room = max(len(ident) for _label, ident in pairs)
    label_room = width - len(indent) - id_room - 2
    longest_label = max(len(sanitize_line(label)) for label, _ident in pairs)
    side_by_side = label_room >= min(longest_label, 36)
    label_room = min(label_room, longest_label)
    wrap_dim = (lambda s: f"{DIM}{s}{RESET}") if dim else (lambda s: s)
    lines = []
    for label, ident in pairs:
        if side_by_side:
            lines.append(f"{indent}{pad(label, label_room)}  {wrap_dim(ident)}".rstrip())
        else:
            lines.append(f"{indent}{fit(label, width - len(indent))}")
            lines.append(f"{' ' * len(indent)}{wrap_dim(ident)}")
    return lines


def fit(text: str, width: int) -> str:
    return shorten(sanitize_line(text), max(8, width))


def pad(text: str, width: int) -> str:
    text = fit(text, width)
    return text + " " * max(0, width - len(text))
