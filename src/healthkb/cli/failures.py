"""The one place where a command's failures become messages and exit codes.

:func:`finish` runs a command (through click in app.py, or a plain search
straight from searching.py) and ends the process with its exit code: a
HealthKBError prints its message and hint, Ctrl-C says "interrupted", a
reader that went away (``| head``) is no error, a failing disk is named, and
anything unexpected prints one line, not a traceback (HEALTHKB_DEBUG=1 shows
it).  click's own errors (usage, --help) are handled in app.py before they
get here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

from healthkb.cli.common import OutputClosed, echo, fit_lines
from healthkb.errors import EXIT_INTERRUPTED, HealthKBError, storage_failure
from healthkb.text import sanitize


def _is_damaged_catalog(exc: Exception) -> bool:
    # Exactly DatabaseError ("database disk image is malformed", "file is not
    # a database"), not its subclasses such as OperationalError (locked, busy).
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3 is not None and type(exc) is sqlite3.DatabaseError


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what
    could not be written fails no more (and prints no second error)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (tests): nothing is flushed at exit


def finish(command: Callable[[], None], again: Callable[[], None], retried: bool) -> NoReturn:
    """Run ``command`` and exit: 0, or the code its failure maps to.
    ``again`` runs the command once more after a damaged catalog was rebuilt."""
    debug = bool(os.environ.get("HEALTHKB_DEBUG"))
    try:
        command()
        sys.stdout.flush()  # a full output device fails here, not at exit
    except HealthKBError as exc:
        if debug:
            raise
        # Messages quote paths and names as given (--kb, -o, file names):
        # never let their control characters reach the terminal.
        echo(fit_lines(f"healthkb: {sanitize(exc.message)}"), err=True)
        if exc.hint:
            echo(fit_lines(f"hint: {sanitize(exc.hint)}"), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        echo("\nhealthkb: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (BrokenPipeError, OutputClosed):
        # The reader went away (e.g. `| head`): not an error, and no traceback.
        _silence_stdout()
        sys.exit(0)
    except OSError as exc:
        # A full disk, lost permissions, a failing disk: the machine, not a bug.
        # An error that names no file came from writing our own output.
        failure = storage_failure(exc, action="accessing")
        if debug or failure is None:
            raise
        _silence_stdout()
        where = " while writing the output" if exc.filename is None else ""
        echo(f"healthkb: {sanitize(failure.message)}{where}", err=True)
        sys.exit(failure.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if debug:
            raise
        # The catalog opened fine but a page of it is damaged: a reading
        # command found out half-way.  Rebuild the index and run it once more.
        if not retried and _is_damaged_catalog(exc):
            from healthkb.cli.common import rebuild_damaged_index

            try:
                rebuilt = rebuild_damaged_index()
            except HealthKBError as error:
                echo(f"healthkb: {sanitize(error.message)}", err=True)
                sys.exit(error.exit_code)
            if rebuilt:
                again()
        echo(f"healthkb: internal error: {type(exc).__name__}: {sanitize(str(exc))}", err=True)
        echo("hint: run again with HEALTHKB_DEBUG=1 to see the traceback", err=True)
        sys.exit(1)
    sys.exit(0)
