"""The `sandbox` command: one Typer app, commands grouped by area in sibling modules."""

from __future__ import annotations

import os
import sys

import typer

from sandbox.cli import knowledge as knowledge_commands
from sandbox.cli import packs as packs_commands
from sandbox.cli import questions as questions_commands
from sandbox.cli import regrade as regrade_commands
from sandbox.cli import suggest as suggest_commands
from sandbox.cli import web as web_commands

app = typer.Typer(
    name="sandbox",
    help="Sandbox: practise and examine customer conversations where a careless sentence hurts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: Rich's formatting cost a quarter of a second at every start.
    rich_markup_mode=None,
)

packs_commands.register(app)
web_commands.register(app)
regrade_commands.register(app)
knowledge_commands.register(app)
questions_commands.register(app)
suggest_commands.register(app)


def main() -> None:
    """Entry point of the `sandbox` console script."""
    try:
        app()
    except Exception as exc:  # a bug of ours: say so plainly, keep the traceback on demand
        if os.environ.get("SANDBOX_DEBUG"):
            raise
        typer.echo(
            f"sandbox: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in Sandbox; run again with SANDBOX_DEBUG=1 for the traceback.",
            err=True,
        )
        sys.exit(70)
