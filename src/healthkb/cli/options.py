"""click glue the command modules share: passing the Context, checking numbers."""

from __future__ import annotations

import click

from healthkb.cli.common import Context

pass_ctx = click.make_pass_decorator(Context)


def positive(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter("must be 1 or more")
    return value
