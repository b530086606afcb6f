"""Turning results into text for people and JSON for programs.

Pure functions that return strings; the CLI decides where they go.  Every
string that came from an article file is sanitised again here, at the last
moment, so no terminal control sequence can reach the screen whatever path
it took.
"""

from __future__ import annotations

import unicodedata
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
    import json  # here: most output is text, and json costs ~1.5 ms to import

    return json.dumps(payload, ensure_ascii=False, indent=2)


def to_jsonl(objects: Iterable[dict]) -> Iterable[str]:
    import json

    for obj in objects:
        yield json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


MIN_COLUMN = 12  # a shrinkable table column is never cut below this (or its header)
GAP = 2  # columns between table columns
HEADER_PADDING = 0  # tabulate's MIN_PADDING, set to this below: the width budget is ours


def table(
    rows: Sequence[Sequence[object]],
    headers: Sequence[str],
    width: int | None = None,
    shrink: Sequence[int | tuple[int, int]] = (),
    middle: Sequence[int] = (),
) -> str:
    """A plain table (tabulate, imported here only: it is slow to import).

    With ``width``, the columns named in ``shrink`` (an index, or an index
    and the width to keep at first) are narrowed, in that order, until every
    line fits: their cells are cut at the end with "…"
    (so a cut id still shows a prefix of itself), or in the middle for the
    columns also named in ``middle`` (paths, whose end matters).
    """
    import tabulate as tabulate_module
    from tabulate import tabulate

    # tabulate pads every header by 2 (MIN_PADDING): that would spend 2
    # columns of the width on each narrow column such as "#" or "words".
    tabulate_module.MIN_PADDING = HEADER_PADDING
    cells = [[sanitize_line(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]
    if width is not None and cells:
        widths = [
            max([display_width(h) + HEADER_PADDING, *(display_width(str(r[n])) for r in cells)])
            for n, h in enumerate(headers)
        ]
        over = sum(widths) + GAP * (len(widths) - 1) - width
        # First down to each column's own floor (shrink=((1, 24), (0, 30))
        # keeps 24 columns of titles before ids are cut), then to MIN_COLUMN.
        steps = [(s, MIN_COLUMN) if isinstance(s, int) else s for s in shrink]
        for column, floor in [*steps, *((column, MIN_COLUMN) for column, _floor in steps)]:
            if over <= 0:
                break
            floor = max(floor, display_width(headers[column]) + HEADER_PADDING)
            cut = min(over, widths[column] - floor)
            if cut > 0:
                widths[column] -= cut
                over -= cut
        cutters = {column: (middle_cut if column in middle else fit) for column, _floor in steps}
        cells = [[cutters[n](c, widths[n]) if n in cutters and isinstance(c, str) else c for n, c in enumerate(r)] for r in cells]
    drawn = tabulate(cells, headers=list(headers), tablefmt="simple", disable_numparse=True)
    return "\n".join(line.rstrip() for line in drawn.split("\n"))


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide (CJK) characters take two,
    combining marks none."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def clip(text: str, width: int) -> str:
    """``text`` cut (without a mark) to what fits in ``width`` columns."""
    return text if display_width(text) <= width else _cut_to(text, width)


def _cut_to(text: str, width: int) -> str:
    """The longest start of ``text`` that takes at most ``width`` columns."""
    used = 0
    for n, char in enumerate(text):
        used += display_width(char)
        if used > width:
            return text[:n]
    return text


def wrap(text: str, width: int, indent: str = "") -> str:
    """Wrap each paragraph of ``text`` to ``width`` columns; blank lines kept."""
    import textwrap  # lazy: a search's output is not wrapped this way

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
    """Wrap snippet segments by their visible width; highlighted words bold when ``color``.

    A segment that starts mid-word (a highlighted stem, a "…") is glued to
    the word before it: the two wrap as one, so no line grows past ``width``."""
    tokens: list[list[tuple[str, bool]]] = []  # words, each made of (text, highlighted) parts
    open_end = False  # did the previous segment end mid-word?
    for text, highlighted in segments:
        clean = sanitize(text).replace("\n", " ")
        glued = open_end and not clean[:1].isspace()
        for n, word in enumerate(clean.split()):
            if n == 0 and glued and tokens:
                tokens[-1].append((word, highlighted))
            else:
                tokens.append([(word, highlighted)])
        open_end = bool(clean) and not clean[-1:].isspace()
    room = max(10, width - len(indent))
    lines: list[list[list[tuple[str, bool]]]] = [[]]
    used = 0
    for token in tokens:
        size = sum(display_width(part) for part, _h in token)
        extra = size + (1 if lines[-1] else 0)
        if lines[-1] and used + extra > room:
            if len(lines) == max_lines:
                while lines[-1] and used + 1 > room:  # make room for the "…"
                    dropped = lines[-1].pop()
                    used -= sum(display_width(part) for part, _h in dropped) + (1 if lines[-1] else 0)
                if lines[-1]:
                    lines[-1][-1] = [*lines[-1][-1], ("…", False)]
                break
            lines.append([])
            used, extra = 0, size
        lines[-1].append(token)
        used += extra
    bold = (lambda part: f"{BOLD}{part}{RESET}") if color else (lambda part: part)
    return [
        indent + " ".join("".join(bold(part) if lit else part for part, lit in token) for token in line)
        for line in lines
    ]


def two_column(pairs: Sequence[tuple[str, str]], width: int, indent: str = "", dim: bool = False) -> list[str]:
    """Label and id side by side when every pair fits in ``width``, else the id
    on a line of its own under its label.  Ids are shortened only when even
    their own line is too narrow, and then at the end, so that what shows is
    still a prefix of the id (and a REF while it is unique)."""
    if not pairs:
        return []
    id_room = max(display_width(sanitize_line(ident)) for _label, ident in pairs)
    label_room = width - len(indent) - id_room - 2
    longest_label = max(display_width(sanitize_line(label)) for label, _ident in pairs)
    side_by_side = label_room >= min(longest_label, 36)
    label_room = min(label_room, longest_label)
    wrap_dim = (lambda s: f"{DIM}{s}{RESET}") if dim else (lambda s: s)
    lines = []
    for label, ident in pairs:
        if side_by_side:
            lines.append(f"{indent}{pad(label, label_room)}  {wrap_dim(sanitize_line(ident))}".rstrip())
        else:
            lines.append(f"{indent}{fit(label, width - len(indent))}")
            lines.append(f"{' ' * len(indent)}{wrap_dim(fit(ident, width - len(indent)))}")
    return lines


def fit(text: str, width: int) -> str:
    """One line of at most ``width`` columns, cut at a word boundary with "…"."""
    text = sanitize_line(text)
    if display_width(text) <= width:
        return text
    if text.isascii():
        if width >= 2 and text[width - 1] == " ":  # a word ends right there: keep it
            return text[: width - 1].rstrip(" ,;:") + "…"
        return shorten(text, max(2, width))
    return _cut_to(text, max(1, width - 1)).rstrip() + "…"


def middle_cut(text: str, width: int) -> str:
    """Shorten ``text`` by taking out its middle ("back/how-to-…-your-back.txt"):
    for paths and ids, whose start and end both say which one it is."""
    text = sanitize_line(text)
    if display_width(text) <= width:
        return text
    if width < 5:
        return _cut_to(text, width)
    tail = (width - 1) // 2
    head = width - 1 - tail
    end = text[::-1]
    return _cut_to(text, head) + "…" + _cut_to(end, tail)[::-1]


def pad(text: str, width: int) -> str:
    text = fit(text, width)
    return text + " " * max(0, width - display_width(text))
