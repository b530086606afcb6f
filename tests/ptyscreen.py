"""Run the real healthkb in a pseudo-terminal and see what a person would see.

pexpect gives the program a real terminal (80x24 unless told); pyte plays
the bytes it writes into a screen, the way a terminal emulator would, so a
test can compare the screen's text with a stored one, check what is bold,
resize the terminal, or press Ctrl-C.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

SCREENS_DIR = Path(__file__).resolve().parent / "screens"
_TIMINGS = re.compile(r"\(\d+ ms\)")


def healthkb_script() -> Path:
    script = Path(sys.executable).parent / "healthkb"
    if not script.exists():
        pytest.skip(f"no healthkb console script beside {sys.executable}")
    return script


def terminal_env(**extra: str) -> dict[str, str]:
    """The test's environment as a fresh terminal session would have it:
    a real terminal type, no size variables (the pty's size counts), and no
    pager settings unless the test gives some."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PAGER", "HEALTHKB_PAGER", "LESS", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    # A UTF-8 terminal, whatever the test runner's locale: less shows "…" as <E2><80><A6> otherwise.
    env["LANG"] = "C.UTF-8"
    env.pop("LC_ALL", None)
    env.pop("LC_CTYPE", None)
    env.update(extra)
    return env


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str] | None = None, rows: int = 24, cols: int = 80) -> None:
        pexpect = pytest.importorskip("pexpect")
        pyte = pytest.importorskip("pyte")
        self.pexpect = pexpect
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(str(healthkb_script()), args, env=env or terminal_env(), dimensions=(rows, cols))
        self.ended = False
        self.transcript = b""  # every byte written, for what scrolled off the screen

    def pump(self, until: str | None = None, settle: float = 0.5, timeout: float = 30.0) -> str:
        """Read output until ``until`` is on the screen (if given) and nothing
        more has come for ``settle`` seconds; return the screen's text."""
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except self.pexpect.TIMEOUT:
                data = b""
            except self.pexpect.EOF:
                self.ended = True
                break
            if data:
                self.transcript += data
                self.stream.feed(data)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle and (until is None or until in self.text()):
                break
        text = self.text()
        if until is not None:
            assert until in text, f"{until!r} never showed on the screen:\n{text}"
        return text

    def send(self, keys: str, until: str | None = None) -> str:
        self.child.send(keys)
        return self.pump(until)

    def all_text(self) -> str:
        """Everything written so far, escape sequences and all, as text."""
        return self.transcript.decode("utf-8", "replace")

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display).rstrip("\n") + "\n"

    def bold_lines(self) -> list[int]:
        return [y for y in range(self.screen.lines) if any(c.bold for c in self.screen.buffer[y].values() if c.data.strip())]

    def resize(self, rows: int, cols: int) -> None:
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the program to end; its exit status (128+N for signal N)."""
        deadline = time.monotonic() + timeout
        while not self.ended and time.monotonic() < deadline:
            self.pump(settle=0.5, timeout=max(0.1, deadline - time.monotonic()))
        assert self.ended, f"still running after {timeout} s:\n{self.text()}"
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + self.child.signalstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.close(force=True)


def same_screen(name: str, text: str) -> None:
    """Compare with the stored screen tests/screens/NAME.txt (timings masked).

    Set HEALTHKB_WRITE_SCREENS=1 to store new screens: then print them and
    look at every one before committing it."""
    shown = _TIMINGS.sub("(N ms)", text)
    path = SCREENS_DIR / f"{name}.txt"
    if os.environ.get("HEALTHKB_WRITE_SCREENS"):
        SCREENS_DIR.mkdir(exist_ok=True)
        path.write_text(shown, encoding="utf-8")
    assert path.exists(), f"no stored screen {path.name}; this is what shows:\n{shown}"
    assert shown == path.read_text(encoding="utf-8"), f"the screen differs from {path.name}:\n{shown}"
