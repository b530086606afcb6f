"""The interactive reader behind `healthkb read`, in the spirit of GNU info.

Owns the reader's state and commands: the article on screen, the history
that ``b`` walks back through, and a pending numbered list (search hits or
the candidates of an ambiguous link).  It does no I/O of its own: lines come
from an injected ``read_line() -> str | None`` (None at end of input) and
text goes to an injected ``write(str)``, and articles come from a
:class:`Library`.  So it runs the same in a terminal, over a pipe
(``printf 'n\\nq\\n' | healthkb read REF``) and in tests.

Commands, one per line (also shown by ``?``):

    n / p       follow the article's next / previous link
    1..N        follow related link N; after a search or an ambiguous link,
                open entry N of that list instead
    b           go back to the article you came from
    /WORDS      search, and list the hits numbered
    g REF       go to an article by id, title or prefix
    Enter       show the current article again (and drop a pending list)
    ?           help
    q           quit (end of input quits too)

A numbered list stays active until the next command that is not a number,
so "3" after a search always means hit 3 and never a related link by
surprise.  Nothing that comes from an article reaches ``write`` unsanitised:
pages arrive already rendered by the library, and everything else shown is
passed through :func:`healthkb.text.sanitize_line`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from healthkb.errors import HealthKBError
from healthkb.text import normalize_newlines, sanitize, sanitize_line, shorten

SEARCH_LIMIT = 10  # hits listed for /WORDS
QUOTE_CHARS = 60  # how much of a link text a message quotes

HELP = """\
Keys (type one, then Enter):
  n         next article
  p         previous article
  1..N      related link N
  b         back to where you came from
  /WORDS    search; then a number opens that hit
  g REF     go to an article by id, title or prefix
  Enter     show this article again
  ?         this help
  q         quit (end of input quits too)"""


@dataclass(frozen=True, slots=True)
class Page:
    """One article as the reader shows it.

    ``lines`` is the rendered, sanitised screen text.  Links are LINK
    objects as ``links --json`` prints them: ``{text, status, id, candidates}``.
    """

    id: str
    title: str
    lines: Sequence[str]
    prev: dict | None = None
    next: dict | None = None
    related: Sequence[dict] = field(default_factory=tuple)


class Library(Protocol):
    """Where the reader gets articles from (an index, or a fake in tests)."""

    def page(self, article_id: str) -> Page | None:
        """The article, or None when its file has vanished."""

    def titles(self, ids: Sequence[str]) -> dict[str, str]:
        """Titles of the given ids (for listing the candidates of a link)."""

    def search(self, text: str, limit: int) -> tuple[list[tuple[str, str]], list[str]]:
        """(id, title) hits best first, and notes worth telling the reader."""

    def resolve(self, ref: str) -> str:
        """The id a REF names; raises a HealthKBError when none or several."""


def _quote(text: str) -> str:
    return f'"{shorten(sanitize_line(text), QUOTE_CHARS)}"'


class Reader:
    """State and commands of one reading session."""

    def __init__(
        self, library: Library, read_line: Callable[[], str | None], write: Callable[[str], None], width: int = 80
    ) -> None:
        self.library = library
        self.width = width  # lines this reader writes itself fit in this many columns
        self.read_line = read_line
        self.write = write
        self.current: Page | None = None
        self.history: list[str] = []  # ids of the articles before the current one
        self.choices: list[tuple[str, str]] = []  # the pending numbered list: (id, title)
        self.opened = 0  # articles shown, for the closing line and for tests

    # -- the loop ----------------------------------------------------------------

    def run(self, start: Page) -> None:
        """Show ``start``, then handle commands until ``q`` or end of input."""
        self.show(start)
        while True:
            line = self.read_line()
            if line is None or not self.handle(line):
                break

    def handle(self, line: str) -> bool:
        """Carry out one command line; False when the reader should stop."""
        command = line.strip()
        word = command.lower()
        if word in ("q", "quit", "exit"):
            return False
        if command.isdigit():
            self._number(int(command))
            return True
        self.choices = []  # any other command drops a pending list
        if not command:
            self._redisplay()
        elif word in ("n", "next"):
            self._follow(self.current.next if self.current else None, "next", "Next")
        elif word in ("p", "prev", "previous"):
            self._follow(self.current.prev if self.current else None, "prev", "Previous")
        elif word in ("b", "back"):
            self._back()
        elif command.startswith("/"):
            self._search(command[1:].strip())
        elif word == "g" or word.startswith("g "):
            self._goto(command[1:].strip())
        elif word in ("?", "h", "help"):
            self.write(HELP)
        else:
            self.write(f"Unknown command {_quote(command)}. {self.keys_line()}")
        return True

    # -- showing -----------------------------------------------------------------

    def keys_line(self) -> str:
        """The keys that apply to the current article, on one line."""
        page = self.current
        keys = []
        if page is not None and page.next is not None:
            keys.append("n next")
        if page is not None and page.prev is not None:
            keys.append("p prev")
        if page is not None and page.related:
            count = len(page.related)
            keys.append("1 related" if count == 1 else f"1-{count} related")
        keys += ["b back", "/text search", "? help", "q quit"]
        lines = [""]
        for key in keys:
            joined = f"{lines[-1]} · {key}" if lines[-1] else key
            if len(joined) > self.width and lines[-1]:
                lines.append(key)
            else:
                lines[-1] = joined
        return "\n".join(lines)

    def show(self, page: Page) -> None:
        self.current = page
        self.opened += 1
        self.write("\n".join([*page.lines, "", self.keys_line()]))

    def _redisplay(self) -> None:
        if self.current is not None:
            self.opened -= 1  # showing again is not opening another article
            self.show(self.current)

    def _open(self, article_id: str, *, from_list: bool = False) -> None:
        """Go to an article, remembering the current one for ``b``."""
        if self.current is not None and article_id == self.current.id:
            # A self link is worth naming as such; a list entry is just "here".
            self.write("You are reading that article." if from_list else "That link leads back to this article.")
            return
        page = self.library.page(article_id)
        if page is None:
            self.write(f"The file of {sanitize_line(article_id)} is gone (run `healthkb reindex`).")
            return
        if self.current is not None:
            self.history.append(self.current.id)
        self.show(page)

    def _offer(self, heading: str, entries: list[tuple[str, str]], footer: str) -> None:
        """List entries numbered; the next number typed opens one of them."""
        self.choices = entries
        width = len(str(len(entries)))
        lines = [heading]
        for number, (article_id, title) in enumerate(entries, 1):
            room = max(10, self.width - width - 4)
            lines.append(f"  {number:>{width}}  {shorten(sanitize_line(title), room)}")
            lines.append(f"  {'':>{width}}  {shorten(sanitize_line(article_id), room)}")
        lines.append(footer)
        self.write("\n".join(lines))

    # -- commands ----------------------------------------------------------------

    def _follow(self, link: dict | None, kind: str, name: str) -> None:
        if link is None:
            mark = "<<:" if kind == "prev" else ">>:"
            self.write(f'This article has no {kind} article (its footer has no "{mark}" line).')
        elif link["status"] == "resolved":
            self._open(link["id"])
        elif link["status"] == "ambiguous":
            self._offer_candidates(f"{name} {_quote(link['text'])}", link["candidates"])
        else:
            self.write(f"{name}: {_quote(link['text'])} is not in this knowledge base.")

    def _offer_candidates(self, what: str, candidates: Sequence[str]) -> None:
        titles = self.library.titles(list(candidates))
        entries = [(c, titles.get(c, c)) for c in candidates]
        self._offer(f"{what} matches {len(entries)} articles:", entries, "Type a number to open one.")

    def _number(self, number: int) -> None:
        if self.choices:
            if 1 <= number <= len(self.choices):
                entries, self.choices = self.choices, []
                self._open(entries[number - 1][0], from_list=True)
            else:
                self.write(f"Choose 1-{len(self.choices)} from the list, or press Enter to return to the article.")
            return
        related = self.current.related if self.current else ()
        if not related:
            self.write("This article has no related links.")
            return
        if not 1 <= number <= len(related):
            self.write(f"There is no related link {number}: this article has 1-{len(related)}.")
            return
        link = related[number - 1]
        text = (link["text"] or "").rstrip() + "…"
        if link["status"] == "resolved":
            self._open(link["id"])
        elif link["status"] == "ambiguous":
            self._offer_candidates(f"Related {number} {_quote(text)}", link["candidates"])
        else:
            self.write(f"Related {number}: {_quote(text)} is not in this knowledge base.")

    def _back(self) -> None:
        while self.history:
            page = self.library.page(self.history.pop())
            if page is not None:
                self.show(page)
                return
        self.write("Nothing to go back to: this is the first article of this session.")

    def _search(self, text: str) -> None:
        if not text:
            self.write("Type / and the words to look for, e.g. /lumbar pain")
            return
        try:
            hits, notes = self.library.search(text, SEARCH_LIMIT)
        except HealthKBError as exc:
            self.write(f"Search failed: {sanitize_line(exc.message)}")
            return
        for note in notes:
            self.write(sanitize_line(note))
        if not hits:
            self.write(f"No article matches {_quote(text)}.")
            return
        noun = "hit" if len(hits) == 1 else "hits"
        self._offer(
            f"{len(hits)} {noun} for {_quote(text)}:",
            hits,
            "Type a number to open a hit, or press Enter to return to the article.",
        )

    def _goto(self, ref: str) -> None:
        if not ref:
            self.write("Type g and an id or title, e.g. g sleep/insomnia")
            return
        try:
            article_id = self.library.resolve(ref)
        except HealthKBError as exc:
            self.write(sanitize(normalize_newlines(exc.message)))
            return
        self._open(article_id)
