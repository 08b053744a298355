"""The `sandbox` command: one Typer app, commands grouped by area in sibling modules."""

from __future__ import annotations

import typer

from sandbox.cli import packs as packs_commands
from sandbox.cli import web as web_commands

app = typer.Typer(
    name="sandbox",
    help="Sandbox: practise and examine customer conversations where a careless sentence hurts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

packs_commands.register(app)
web_commands.register(app)


def main() -> None:
    """Entry point of the `sandbox` console script."""
    app()
