"""What a process that lives for one command may skip: garbage collection
while it starts, and the interpreter's teardown when it ends.

Start-up imports a few hundred modules, and everything they allocate lives
until the process ends: the cyclic collector's passes over it during the
imports find nothing to free, and its last pass at exit walks it all again.
Then the interpreter takes every module apart, one object at a time, only
for the operating system to drop the whole address space a moment later.
Measured on a 10,000-article search (~135 ms in all), the passes cost
~16 ms and the teardown ~5 ms.

So the process entry point (``healthkb.cli.entry``) pauses the collector
while modules load.  When the command reaches its real work (it resolves
its knowledge base), everything made so far is frozen, so later passes
skip it, and collection resumes: a long build collects its garbage as
before.  At the end, a reading command leaves with ``os._exit`` once its
output is flushed and the exit handlers have run.  Other commands write
files, so they exit the usual way, with start-up's objects unfrozen first:
the interpreter keeps frozen modules alive at exit, and the finalisers of
what they hold (a file's last buffer, say) would never run.

Only the entry point does any of this: ``main()`` called inside another
program (the tests) leaves that program's collector and exit alone.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import NoReturn

from healthkb.cli.commands import READING_COMMANDS

_paused = False
_froze = False


def pause_collection() -> None:
    """Stop collecting until :func:`resume_collection` (entry point only)."""
    global _paused
    if gc.isenabled() and not _paused:
        gc.disable()
        _paused = True


def resume_collection() -> None:
    """Start-up is over: freeze what it made and collect again."""
    global _paused, _froze
    if _paused:
        _paused = False
        _froze = True
        gc.freeze()
        gc.enable()


def end(stop: SystemExit, command: str | None) -> NoReturn:
    """Leave as ``stop`` says; after a reading command, without the teardown.

    The quick way is taken only when nothing can be lost by it: the command
    only read (what it wrote to the index, if it brought it up to date, is
    committed and closed by then), the exit code is a number, no other
    thread runs, and stdout and stderr flushed cleanly.  Anything else
    raises ``stop`` for the interpreter's own exit.
    """
    code = 0 if stop.code is None else stop.code
    threading = sys.modules.get("threading")
    if command not in READING_COMMANDS or not isinstance(code, int) or (threading and threading.active_count() > 1):
        _exit_as_usual(stop)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        _exit_as_usual(stop)  # the interpreter reports it as it always does
    atexit._run_exitfuncs()  # what registered to run at exit still runs
    os._exit(code)


def _exit_as_usual(stop: SystemExit) -> NoReturn:
    if _froze:
        gc.unfreeze()  # every object is finalised at exit, as without the pause
    raise stop
