"""Paging long output the way git does.

On a terminal, output taller than the screen goes through
``$HEALTHKB_PAGER``, else ``$PAGER``, else ``less -FRX`` (quit at once when
it fits, keep colours, leave the text on the screen afterwards).  Short
output, output to a pipe or a file, ``--no-pager``, ``TERM=dumb`` and a pager
set to ``cat`` or to nothing all print directly.  A pager that cannot be
started or that fails prints directly too, after one notice, so the output
is never lost; quitting the pager early (``q`` before the end) is not an
error; Ctrl-C belongs to the pager while it runs, as in git.
"""

from __future__ import annotations

import os
import sys

DEFAULT_PAGER = "less -FRX"
LESS_DEFAULTS = "FRX"  # for $PAGER=less, as git sets it when $LESS is unset


def pager_command(environ=os.environ) -> str | None:
    """The pager to run, or None to print directly."""
    if environ.get("TERM") == "dumb":
        return None
    for name in ("HEALTHKB_PAGER", "PAGER"):
        value = environ.get(name)
        if value is not None:
            value = value.strip()
            return None if value in ("", "cat") else value
    return DEFAULT_PAGER


def too_tall(text: str, rows: int) -> bool:
    """Does ``text`` need more than one screen (keeping a line for the prompt)?"""
    return text.count("\n") + 1 > max(rows - 1, 1)


# subprocess, signal and shlex are imported where a pager runs: most output
# goes to a pipe or fits the screen, and a search should not load them.


def _program_exists(command: str) -> bool:
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        return False
    import shutil

    return bool(words) and shutil.which(words[0]) is not None


def run_pager(command: str, text: str) -> str | None:
    """Show ``text`` in ``command``; None when it went well (or the user quit
    early), else why the pager failed, for the caller to print directly."""
    if not _program_exists(command):
        return f"the pager `{command}` was not found"
    import signal
    import subprocess

    env = dict(os.environ)
    env.setdefault("LESS", LESS_DEFAULTS)
    env.setdefault("LV", "-c")  # lv, another common pager: keep colours
    try:
        process = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError as exc:
        return f"the pager `{command}` could not start: {exc.strerror}"
    # Ctrl-C is the pager's to handle (less uses it to stop a search); the
    # pager and healthkb share the terminal's process group, so ignore it
    # here, once the pager has started (it must not inherit the ignoring).
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            process.stdin.write(text.encode("utf-8", "replace"))
            process.stdin.close()
        except BrokenPipeError:  # the user quit before reading it all
            pass
        code = process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    if code == 0 or code < 0 or code >= 128:  # done, or ended by a signal (Ctrl-C, q in some pagers)
        return None
    return f"the pager `{command}` failed (exit {code})"


def terminal_size() -> os.terminal_size:
    """$COLUMNS and $LINES, else the terminal's size, else 80x24: what
    ``shutil.get_terminal_size`` answers, without importing shutil and the
    bz2 and lzma modules it loads (~2 ms of every command that prints)."""
    sizes = []
    for name in ("COLUMNS", "LINES"):
        try:
            sizes.append(int(os.environ.get(name, "0")))
        except ValueError:
            sizes.append(0)
    if min(sizes) <= 0:
        try:
            found = os.get_terminal_size(sys.__stdout__.fileno())
        except (AttributeError, ValueError, OSError):
            found = os.terminal_size((0, 0))  # not a terminal, or stdout closed
        sizes = [given if given > 0 else (measured or default)
                 for given, measured, default in zip(sizes, found, (80, 24))]
    return os.terminal_size(sizes)


def page_or_print(text: str, write, notice, *, rows: int | None = None, enabled: bool = True) -> None:
    """Page ``text`` when it is taller than the terminal, else ``write`` it."""
    if enabled and sys.stdout.isatty():
        command = pager_command()
        rows = rows if rows is not None else terminal_size().lines
        if command is not None and too_tall(text, rows):
            sys.stdout.flush()
            failure = run_pager(command, text + "\n")
            if failure is None:
                return
            notice(f"{failure}; printing directly (set $HEALTHKB_PAGER, or use --no-pager)")
    write(text)
