"""Parse one article's text into an :class:`Article` (SPEC §1). Pure: no I/O.

An article is prose followed by a *footer*: an optional ``<<: previous title``
line, an optional ``>>: next title`` line and zero or more *teasers*, lines
that quote the first 49 characters of a related article and end in ``...``.
The last body line ends with `` |``.  Every part may be missing.

The footer is found from the end of the file backwards, so a ``<<:`` or a
``|`` earlier in the body stays body text.
"""

from __future__ import annotations

from typing import NamedTuple

from healthkb.text import clean_line, first_sentence, normalize_newlines, strip_controls
from healthkb.text import title_from_filename

PREV_MARK = "<<:"
NEXT_MARK = ">>:"
BODY_END_MARK = " |"
TEASER_LENGTH = 49  # scraped teasers quote exactly this many characters
_ELLIPSES = ("...", "…")

TITLE_FROM_HEADING = "heading"
TITLE_FROM_NAV = "nav"
TITLE_FROM_FILENAME = "filename"
TITLE_FROM_BODY = "body"


class Article(NamedTuple):
    """One parsed article. Text fields are sanitised for display.

    Immutable records of values (this one, a catalog row, a decoded file)
    are named tuples: as light as a frozen dataclass to hold, and ~1 ms
    cheaper for each process to define (every search defines this one)."""

    id: str
    path: str
    title: str
    title_source: str
    body: str
    prev: str | None = None
    next: str | None = None
    teasers: tuple[str, ...] = ()
    encoding: str = "utf-8"
    warnings: tuple[str, ...] = ()

    @property
    def words(self) -> int:
        return len(self.body.split())


def _teaser_text(line: str) -> str | None:
    """The quoted text of a teaser line (dots removed, inner spaces kept)."""
    stripped = line.rstrip()
    for dots in _ELLIPSES:
        # The quoted text must have something in it: a bare "..." (or
        # "   ...") quotes nothing and is prose, not a link to anything.
        if stripped.endswith(dots) and stripped[: -len(dots)].strip():
            return stripped[: -len(dots)]
    return None


def _ends_body(line: str) -> bool:
    stripped = line.rstrip()
    return stripped.endswith(BODY_END_MARK) or stripped == "|"


def split_footer(lines: list[str]) -> tuple[int, str | None, str | None, list[str]]:
    """Find the footer in ``lines``; return (body_end, prev, next, teasers).

    ``lines[:body_end]`` is the body.  The footer is the trailing run of
    blank, teaser and nav lines, in the order ``<<:``, ``>>:``, teasers.
    """
    position = len(lines)
    teasers: list[str] = []
    while position > 0:
        line = lines[position - 1]
        if not line.strip():
            position -= 1
            continue
        text = _teaser_text(line)
        if text is None or line.startswith((PREV_MARK, NEXT_MARK)):
            break
        teasers.append(text)
        position -= 1
    teasers.reverse()
    nav: dict[str, str] = {}
    for mark in (NEXT_MARK, PREV_MARK):
        while position > 0 and not lines[position - 1].strip():
            position -= 1
        if position > 0 and lines[position - 1].startswith(mark):
            nav[mark] = lines[position - 1][len(mark):].strip()
            position -= 1
    while position > 0 and not lines[position - 1].strip():
        position -= 1

    has_boundary = bool(nav) or (position > 0 and _ends_body(lines[position - 1]))
    if teasers and not has_boundary and position > 0:
        # Without a " |" or a nav line, a trailing "..." may just be prose that
        # trails off.  Only lines as short as a scraped teaser count as teasers.
        keep = len(teasers)
        while keep and len(teasers[keep - 1]) <= TEASER_LENGTH:
            keep -= 1
        if keep:
            position += _lines_spanned(lines, position, keep)
            teasers = teasers[keep:]
    return position, nav.get(PREV_MARK) or None, nav.get(NEXT_MARK) or None, teasers


def _lines_spanned(lines: list[str], start: int, teaser_count: int) -> int:
    """How many lines from ``start`` hold the first ``teaser_count`` teasers."""
    seen = 0
    index = start
    while seen < teaser_count:
        if lines[index].strip():
            seen += 1
        index += 1
    return index - start


def _parts(text: str) -> tuple[str | None, str, str | None, str | None, list[str]]:
    """(heading, body, prev, next, teasers) of decoded ``text``, as written."""
    # Sanitise before looking for structure, so that the parse agrees with
    # what the user sees: a colour code after the closing " |" or in front of
    # "<<:" or "# " must not hide the footer or the heading.
    text = strip_controls(normalize_newlines(text.removeprefix("\ufeff")))
    lines = text.split("\n")

    heading = None
    # "# text |" closes a one-line body that happens to start with "# ":
    # a heading never carries the body's closing mark.
    if lines and lines[0].startswith("# ") and lines[0][2:].strip() and not _ends_body(lines[0]):
        heading = clean_line(lines[0][2:])
        lines = lines[1:]

    body_end, prev, nxt, teasers = split_footer(lines)
    body_lines = lines[:body_end]
    if body_lines and _ends_body(body_lines[-1]):
        last = body_lines[-1].rstrip()
        body_lines[-1] = last[:-1].rstrip()
    return heading, "\n".join(body_lines).strip("\n").rstrip(), prev, nxt, teasers


def article_body(text: str) -> str:
    """The body of decoded ``text``, exactly as :func:`parse_article` gives
    it, without working out a title (a snippet needs only the body)."""
    return _parts(text)[1]


def parse_article(
    text: str,
    article_id: str,
    *,
    path: str | None = None,
    encoding: str = "utf-8",
    warnings: tuple[str, ...] = (),
) -> Article:
    """Parse decoded ``text`` (any line ends, BOM allowed) into an Article."""
    heading, body, prev, nxt, teasers = _parts(text)
    # Keep the teaser's trailing spaces: they are part of the quoted prefix.
    clean_teasers = tuple(t.replace("\t", " ").lstrip() for t in teasers)

    stem = clean_line(article_id.rsplit("/", 1)[-1])
    if heading:
        title, source = heading, TITLE_FROM_HEADING
    elif (from_name := title_from_filename(stem)) is not None:
        title, source = from_name, TITLE_FROM_FILENAME
    elif body.strip():
        title, source = first_sentence(body, 72), TITLE_FROM_BODY
    else:
        title, source = clean_line(stem) or "(untitled)", TITLE_FROM_FILENAME

    return Article(
        id=article_id,
        path=path if path is not None else f"{article_id}.txt",
        title=title,
        title_source=source,
        body=body,
        prev=clean_line(prev) if prev else None,
        next=clean_line(nxt) if nxt else None,
        teasers=clean_teasers,
        encoding=encoding,
        warnings=tuple(warnings),
    )


def render_footer(prev: str | None, nxt: str | None, teasers: list[str] | tuple[str, ...]) -> str:
    """The footer lines for the given parts, in the seed's layout."""
    lines = []
    if prev:
        lines.append(f"{PREV_MARK} {prev}")
    if nxt:
        lines.append(f"{NEXT_MARK} {nxt}")
    lines.extend(f"{teaser}..." for teaser in teasers)
    return "\n".join(lines)


def render_article(article: Article) -> str:
    """Write ``article`` back in the on-disk format (body, `` |``, footer)."""
    parts = []
    if article.title_source == TITLE_FROM_HEADING:
        parts.append(f"# {article.title}")
    parts.append(article.body + BODY_END_MARK if article.body else "|")
    footer = render_footer(article.prev, article.next, article.teasers)
    if footer:
        parts.append(footer)
    return "\n".join(parts)
