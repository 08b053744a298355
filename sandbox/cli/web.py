"""Commands of the web product (`serve`, `users`); filled in by the web layer."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the web commands to the `sandbox` app."""
