"""Pack author commands: validate, test, grade, play, packs."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the pack commands to the `sandbox` app."""
