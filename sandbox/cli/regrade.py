"""`sandbox regrade`: grade stored attempts again after a pack changed, on every core.

Only the command's signature lives here; the work (SQLModel, Rich, the process pool) is in
`sandbox.cli.regrading`, imported when the command runs, so `sandbox --help` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer


def regrade(
    pack: Annotated[
        str | None, typer.Option("--pack", help="Only attempts at this pack's scenarios.")
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", help="Only attempts at this scenario (ID or PACK/ID)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List the attempts whose score, band or pass would change; change nothing.",
        ),
    ] = False,
    all_attempts: Annotated[
        bool, typer.Option("--all", help="Every graded attempt, of every pack.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", min=1, help="Worker processes (default: every core).")
    ] = None,
) -> None:
    """Grade stored attempts again with the packs loaded now; reviewers' overrides are kept."""
    from sandbox.cli.regrading import run

    run(pack, scenario, dry_run, all_attempts, jobs)


def register(app: typer.Typer) -> None:
    """Add `regrade` to the `sandbox` app."""
    app.command()(regrade)
