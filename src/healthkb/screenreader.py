"""The full-screen reader: `healthkb read` on a terminal, drawn with curses.

It is the line-mode :class:`~healthkb.reader.Reader` with a screen: the
Reader keeps owning the state and the commands (links, history, search,
numbered lists), and this module turns keys into those commands and draws
the article a page at a time, the way ``less`` or GNU info would:

    space / f / PgDn   next page          b / PgUp      previous page
    j / Down / Enter   one line down      k / Up        one line up
    n / p              next / previous article
    1..N               follow related link N (or open entry N of a list)
    Backspace / h      back to the article you came from
    /                  search, then a number (or Enter) opens a hit
    g                  go to an article by id, title or prefix
    ?                  help               q             quit

The standard library's curses draws it (no dependency, and it knows every
terminal through terminfo).  Whatever an article holds, what is drawn was
rendered and sanitised by the library, and every line is sanitised again
right before it is drawn, so no control byte from a file reaches the screen.
"""

from __future__ import annotations

import curses
import os
import textwrap

from healthkb.reader import Page, Reader
from healthkb.render import display_width
from healthkb.text import sanitize, sanitize_line

HELP_LINES = """\
Keys
  space, f, PgDn   next page              b, PgUp     previous page
  j, Down, Enter   one line down          k, Up       one line up
  Home, End        top, end of the article
  n, p             next, previous article (its >>: and <<: links)
  1..N             follow related link N (after a search: open hit N)
  Backspace, h     back to the article you came from
  /                search; then a number or Enter opens a hit
  g                go to an article: an id, a title, or the start of either
  ?                this help              q           quit

Press any key to return to the article.""".split("\n")

ENTER_KEYS = ("\n", "\r", curses.KEY_ENTER)
BACK_KEYS = ("h", "\x7f", "\b", curses.KEY_BACKSPACE)
ESCAPE = "\x1b"


def _fit(text: str, width: int) -> str:
    from healthkb.render import fit

    return fit(text, width) if width > 1 else ""


class ScreenReader(Reader):
    """A reading session on a curses screen."""

    def __init__(self, library, screen, disclaimer: str, max_width: int = 100) -> None:
        super().__init__(library, read_line=lambda: None, write=self._note)
        self.screen = screen
        self.disclaimer = disclaimer
        self.max_width = max_width
        self.top = 0  # first line of the article on screen
        self.overlay: list[str] | None = None  # help, or a numbered list to choose from
        self.message = ""  # one line in the status bar until the next key
        self.digits = ""  # a link number being typed

    # -- what the Reader tells us --------------------------------------------------

    def show(self, page: Page) -> None:
        self.current = page
        self.opened += 1
        self.top = 0
        self.overlay = None

    def _redisplay(self) -> None:
        self.overlay = None

    def _note(self, text: str) -> None:
        lines = text.split("\n")
        if len(lines) > 1:
            if lines[-1].startswith("Type a number"):  # line mode's footer: the status bar says it here
                lines[-1] = ""
            self.overlay = lines
        else:
            self.message = text

    # -- the loop ----------------------------------------------------------------

    def run(self, start: Page) -> None:
        self.show(start)
        while True:
            self.draw()
            key = self.screen.get_wch()
            if key == curses.KEY_RESIZE:
                self.resize()
                continue
            self.message = ""
            if not self.key(key):
                return

    def key(self, key) -> bool:
        """Carry out one key; False to quit."""
        if isinstance(key, str) and key.isdigit():
            self.digits += key
            self._maybe_follow_number()
            return True
        if self.digits and key in ENTER_KEYS:
            self._follow_number()
            return True
        self.digits = ""
        if self.overlay is not None:
            return self._overlay_key(key)
        if key in ("q", "Q"):
            return False
        rows = self.page_rows()
        moves = {
            " ": rows - 1, "f": rows - 1, curses.KEY_NPAGE: rows - 1,
            "b": -(rows - 1), curses.KEY_PPAGE: -(rows - 1),
            "j": 1, curses.KEY_DOWN: 1, "\n": 1, "\r": 1, curses.KEY_ENTER: 1,
            "k": -1, curses.KEY_UP: -1,
            curses.KEY_HOME: -10**9, curses.KEY_END: 10**9,
        }
        if key in moves:
            self.scroll(moves[key])
        elif key in ("n", "p"):
            self.handle(key)
        elif key in BACK_KEYS:
            self.handle("b")
        elif key == "/":
            text = self.prompt("/")
            if text:
                self.handle("/" + text)
        elif key == "g":
            text = self.prompt("go to: ")
            if text:
                self.handle("g " + text)
        elif key == "?":
            self.overlay = HELP_LINES
        elif key != ESCAPE:
            self.message = f"{_key_name(key)}: not a key here. ? help, q quit"
        return True

    def _overlay_key(self, key) -> bool:
        if self.choices and key in ENTER_KEYS:
            self.handle("1")  # Enter opens the first hit
        else:
            self.choices = []
            self.overlay = None
        return True

    def _maybe_follow_number(self) -> None:
        count = len(self.choices) if self.choices else len(self.current.related) if self.current else 0
        if int(self.digits) * 10 > count:  # no more digits could make a valid number
            self._follow_number()
        else:
            self.message = f"link {self.digits}… (Enter to follow)"

    def _follow_number(self) -> None:
        digits, self.digits = self.digits, ""
        self.handle(digits)

    # -- moving and drawing --------------------------------------------------------

    def lines(self) -> list[str]:
        page = self.current
        if page is None:
            return []
        body = [line for chunk in page.lines for line in chunk.split("\n")]
        if body and set(body[0]) == {"─"}:  # the rule line mode draws between articles
            body = body[1:]
        return [*body, "", self.disclaimer]

    def page_rows(self) -> int:
        rows, _cols = self.screen.getmaxyx()
        return max(1, rows - 1)

    def scroll(self, by: int) -> None:
        last = max(0, len(self.lines()) - self.page_rows())
        if by > 0 and self.top >= last:
            self.message = self._end_message()
        self.top = min(max(0, self.top + by), last)

    def _end_message(self) -> str:
        keys = [k for k, link in (("n next", self.current.next), ("p previous", self.current.prev)) if link]
        return "End of the article" + (f": {', '.join(keys)}" if keys else "") + ", q quit"

    def resize(self) -> None:
        """Lay the article out again for the new width, keeping the place."""
        curses.update_lines_cols()
        _rows, cols = self.screen.getmaxyx()
        old = max(1, len(self.lines()))
        if hasattr(self.library, "width") and self.current is not None:
            self.library.width = text_columns(cols, self.max_width)
            page = self.library.page(self.current.id)
            if page is not None:
                self.current = page
        self.top = min(self.top * len(self.lines()) // old, max(0, len(self.lines()) - self.page_rows()))

    def draw(self) -> None:
        screen = self.screen
        rows, cols = screen.getmaxyx()
        screen.erase()
        if self.overlay is not None:
            shown, top = self.overlay, 0
        else:
            shown, top = self.lines(), self.top
        bold = self._bold_lines()
        for y, line in enumerate(shown[top : top + max(1, rows - 1)]):
            attr = curses.A_BOLD if self.overlay is None and (top + y) in bold else curses.A_NORMAL
            self._put(y, line, cols, attr)
        self._put(rows - 1, self.status(cols), cols, curses.A_REVERSE, pad=True)
        screen.refresh()

    def _bold_lines(self) -> set[int]:
        """The title and the "See also" heading."""
        page = self.current
        if page is None:
            return set()
        lines = self.lines()
        width = getattr(self.library, "width", 80)
        title = set(textwrap.wrap(sanitize_line(page.title), width))
        return {n for n, line in enumerate(lines[:8]) if line in title} | {n for n, line in enumerate(lines) if line == "See also"}

    def status(self, cols: int) -> str:
        if self.message:
            return " " + self.message
        if self.overlay is not None:
            return " " + ("a number opens an entry · Enter the first · any other key returns" if self.choices else "any key returns")
        total = len(self.lines())
        end = min(total, self.top + self.page_rows())
        where = "all" if total <= self.page_rows() else "end" if end >= total else f"{100 * end // total}%"
        related = len(self.current.related) if self.current else 0
        keys = ["space/b page", "n/p article", f"1-{related} link" if related > 1 else "1 link" if related else "",
                "h back", "/ search", "g go", "? help", "q quit"]
        keys = [k for k in keys if k]
        while len(keys) > 2 and len(f" {where:>4}  " + " · ".join(keys)) > cols - 1:
            keys.pop(-3)  # drop the least needed, keep "? help · q quit"
        return f" {where:>4}  " + " · ".join(keys)

    def _put(self, y: int, text: str, cols: int, attr: int, pad: bool = False) -> None:
        from healthkb.render import clip

        # Lines come rendered and sanitised; sanitise again, as the last step.
        text = clip(sanitize(text).replace("\t", " ").replace("\n", " "), cols - 1)
        if pad:
            text += " " * max(0, cols - 1 - display_width(text))
        try:
            self.screen.addstr(y, 0, text, attr)
        except curses.error:  # the last cell of the screen, or a tiny terminal
            pass

    def prompt(self, label: str) -> str | None:
        """Read one line on the status bar; None on Esc or Ctrl-G."""
        text = ""
        curses.curs_set(1)
        try:
            while True:
                rows, cols = self.screen.getmaxyx()
                self._put(rows - 1, label + text, cols, curses.A_NORMAL, pad=True)
                self.screen.move(rows - 1, min(cols - 2, len(label) + len(text)))
                self.screen.refresh()
                key = self.screen.get_wch()
                if key in ENTER_KEYS:
                    return text.strip()
                if key in (ESCAPE, "\x07"):
                    return None
                if key in ("\x7f", "\b", curses.KEY_BACKSPACE):
                    text = text[:-1]
                elif key == curses.KEY_RESIZE:
                    self.resize()
                    self.draw()
                elif isinstance(key, str) and key.isprintable():
                    text += key
        finally:
            try:
                curses.curs_set(0)
            except curses.error:
                pass


def _key_name(key) -> str:
    if isinstance(key, str):
        return repr(key) if not key.isprintable() else key
    return curses.keyname(key).decode("ascii", "replace") if key >= 0 else str(key)


def text_columns(cols: int, cap: int = 100) -> int:
    """How wide to lay articles out on a screen ``cols`` wide."""
    return max(20, min(cols - 1, cap))


def usable() -> bool:
    """Can curses run here?  Needs a real, capable terminal on both ends."""
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    term = os.environ.get("TERM", "")
    if term in ("", "dumb", "unknown"):
        return False
    try:
        curses.setupterm(term, sys.stdout.fileno())
    except curses.error:
        return False
    return True


def read_fullscreen(library, start: Page, disclaimer: str) -> int:
    """Run a reading session; return how many articles were opened."""
    os.environ.setdefault("ESCDELAY", "25")  # Esc cancels a prompt at once

    def session(screen) -> int:
        try:
            curses.curs_set(0)
        except curses.error:
            pass
        screen.keypad(True)
        reader = ScreenReader(library, screen, disclaimer, getattr(library, "width", 100))
        if hasattr(library, "width"):
            library.width = text_columns(screen.getmaxyx()[1], reader.max_width)
            start_page = library.page(start.id) or start
        else:
            start_page = start
        reader.run(start_page)
        return reader.opened

    return curses.wrapper(session)
