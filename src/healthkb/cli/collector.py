"""The cyclic garbage collector in a process that lives for one command.

Start-up imports a few hundred modules, and everything they allocate lives
until the process ends: the collector's passes over it during the imports
find nothing to free, and its last pass at exit walks it all once more.
Measured on a 10,000-article search, those passes cost ~25 ms of ~135 ms.

So the process entry point (``healthkb.cli.entry``) pauses the collector
while modules load.  When the command reaches its real work (it resolves
its knowledge base), everything made so far is frozen, so later passes
skip it, and collection resumes: a long build collects its garbage as
before.  At exit everything is frozen again, which spares the final pass.

Only the entry point pauses: ``main()`` called inside another program (the
tests) leaves that program's collector alone, because freezing would keep
that program's not-yet-collected garbage for good.
"""

from __future__ import annotations

import atexit
import gc

_paused = False


def pause_for_startup() -> None:
    """Stop collecting until :func:`resume` (process entry point only)."""
    global _paused
    if gc.isenabled() and not _paused:
        gc.disable()
        _paused = True
        atexit.register(gc.freeze)  # runs before the interpreter's last collection


def resume() -> None:
    """Start-up is over: freeze what it made and collect again."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
