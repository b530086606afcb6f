"""The command group and :func:`run`: parse options, call the core, render.

Every command is a thin shell: it resolves the KB, calls a core function
that returns data, renders it, and lets errors propagate to failures.py,
the one place where they become a message and an exit code.  The entry
point is ``healthkb.cli.main``, which starts the freshness walk before this
module (and click) is imported, and runs a plain search without click at
all (searching.py).
"""

from __future__ import annotations

import sys

import click

from healthkb import __version__
from healthkb.cli.common import Context, echo, fit_lines
from healthkb.cli.failures import finish
from healthkb.cli.options import pass_ctx
from healthkb.errors import EXIT_INTERRUPTED, EXIT_USAGE
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
    echo(fit_lines(f"healthkb: {sanitize(exc.format_message())}"), err=True)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        usage = " ".join(ctx.command.collect_usage_pieces(ctx))
        echo(fit_lines(f"usage: {ctx.command_path} {usage}  (see --help)"), err=True)


def run(argv: list[str] | None = None, retried: bool = False) -> None:
    """Run the CLI through click; failures become messages and exit codes
    in failures.py, click's own (usage, --help) here."""

    def command() -> None:
        try:
            cli.main(args=argv, prog_name="healthkb", standalone_mode=False)
        except click.exceptions.Abort:
            echo("", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            _show_usage_error(exc)
            sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)

    finish(command, again=lambda: run(argv, retried=True), retried=retried)


__all__ = ["cli", "pass_ctx", "run"]
