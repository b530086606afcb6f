"""The command group and :func:`run`: parse options, call the core, render, map errors.

Every command is a thin shell: it resolves the KB, calls a core function
that returns data, renders it, and lets errors propagate to :func:`run`,
the one place where they become a message and an exit code.  The entry
point is ``healthkb.cli.main``, which starts the freshness walk before this
module (and click) is imported.
"""

from __future__ import annotations

import io
import os
import sys

import click

from healthkb import __version__
from healthkb.cli.common import Context, OutputClosed, fit_lines, pass_ctx
from healthkb.errors import EXIT_INTERRUPTED, EXIT_USAGE, HealthKBError, storage_failure
from healthkb.text import sanitize

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# command name → module that defines it.  Modules are imported only when their
# command runs (or for --help), so `healthkb search` does not pay for tabulate,
# the index writer or the reader.
LAZY_COMMANDS = {
    "search": "search_cmds", "similar": "search_cmds",
    "show": "browse", "list": "browse",
    "links": "links_cmds", "check": "links_cmds", "export": "links_cmds", "graph": "links_cmds", "read": "reading",
    "init": "maintain", "add": "maintain", "reindex": "maintain", "stats": "maintain",
    "edit": "editing", "new": "editing",
    "completion": "completion",
}


def _set_kb(click_ctx: click.Context, _param, value: str | None) -> None:
    if value is not None:
        click_ctx.meta["healthkb.kb_path"] = value  # for completion, which runs no group callback
        state = click_ctx.find_object(Context)
        if state is not None:
            state.kb_path = value


def _set_no_pager(click_ctx: click.Context, _param, value: bool) -> None:
    state = click_ctx.find_object(Context)
    if value and state is not None:
        state.no_pager = True


# The group's options are accepted after the command too (`healthkb search
# coffee --kb mykb`): each command gets a copy that sets the same Context.
SHARED_OPTIONS = (
    click.Option(["--kb"], metavar="DIR", expose_value=False, callback=_set_kb,
                 help="Knowledge base folder (as before the command)."),
    click.Option(["--no-pager"], is_flag=True, expose_value=False, callback=_set_no_pager,
                 help="Print directly, never through the pager."),
)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in LAZY_COMMANDS if self.get_command(ctx, name) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module_name = LAZY_COMMANDS.get(name)
        if module_name is None:
            return None
        import importlib

        module = importlib.import_module(f"healthkb.cli.{module_name}")
        command = next((c for c in module.COMMANDS if c.name == name), None)
        if command is not None:
            taken = {opt for param in command.params for opt in param.opts}
            command.params += [option for option in SHARED_OPTIONS if not taken & set(option.opts)]
        return command


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option("--kb", "kb_path", metavar="DIR", help="Knowledge base folder (default: $HEALTHKB_KB, a folder with .healthkb/ above, or your own KB).")
@click.option("--no-pager", is_flag=True, help="Print directly, never through the pager.")
@click.option("--no-refresh", is_flag=True, help="Answer from the index as it is, without checking the articles for changes first (also $HEALTHKB_NO_REFRESH).")
@click.version_option(__version__, "-V", "--version", prog_name="healthkb", message="%(prog)s %(version)s")
@click.pass_context
def cli(click_ctx: click.Context, kb_path: str | None, no_pager: bool, no_refresh: bool) -> None:
    """healthkb: an offline knowledge base of health articles.

    Search, read and cross-link plain-text health articles. General health
    information, not medical advice.
    """
    click_ctx.obj = Context(kb_path, click_ctx.invoked_subcommand, no_pager, refresh=not no_refresh)


def _show_usage_error(exc: click.ClickException) -> None:
    """A usage error in two lines: what is wrong, then the usage and where help is."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        exc.show()  # `healthkb` alone: the help is the answer
        return
    click.echo(fit_lines(f"healthkb: {sanitize(exc.format_message())}"), err=True)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        usage = " ".join(ctx.command.collect_usage_pieces(ctx))
        click.echo(fit_lines(f"usage: {ctx.command_path} {usage}  (see --help)"), err=True)


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


def run(argv: list[str] | None = None, retried: bool = False) -> None:
    """Run the CLI and turn every failure into a message and exit code."""
    debug = bool(os.environ.get("HEALTHKB_DEBUG"))
    try:
        cli.main(args=argv, prog_name="healthkb", standalone_mode=False)
        sys.stdout.flush()  # a full output device fails here, not at exit
    except HealthKBError as exc:
        if debug:
            raise
        # Messages quote paths and names as given (--kb, -o, file names):
        # never let their control characters reach the terminal.
        click.echo(fit_lines(f"healthkb: {sanitize(exc.message)}"), err=True)
        if exc.hint:
            click.echo(fit_lines(f"hint: {sanitize(exc.hint)}"), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _show_usage_error(exc)
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("\nhealthkb: interrupted", err=True)
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
        click.echo(f"healthkb: {sanitize(failure.message)}{where}", err=True)
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
                click.echo(f"healthkb: {sanitize(error.message)}", err=True)
                sys.exit(error.exit_code)
            if rebuilt:
                run(argv, retried=True)
        click.echo(f"healthkb: internal error: {type(exc).__name__}: {sanitize(str(exc))}", err=True)
        click.echo("hint: run again with HEALTHKB_DEBUG=1 to see the traceback", err=True)
        sys.exit(1)
    sys.exit(0)


__all__ = ["cli", "pass_ctx", "run"]
