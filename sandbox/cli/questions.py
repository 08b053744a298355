"""Question bank commands: `sandbox questions` (a summary), import and export."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.output import fail, table
from sandbox.config import Settings
from sandbox.questions.library import bank_folders
from sandbox.questions.loader import BankSet, load_banks


def summary(loaded: BankSet) -> dict[str, object]:
    """Counts by type, locale, trade, difficulty and tag (what `sandbox questions` prints)."""
    questions = [q for b in loaded.banks for q in b.questions]

    def count(values: list[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return {
        "banks": [
            {
                "id": b.id,
                "file": b.source,
                "locale": b.locale,
                "trade": b.bank.trade,
                "questions": len(b.questions),
            }
            for b in loaded.banks
        ],
        "questions": len(questions),
        "by_type": count([q.type for q in questions]),
        "by_locale": count([q.locale for q in questions]),
        "by_trade": count([q.trade for q in questions]),
        "by_difficulty": count([q.difficulty for q in questions]),
        "by_tag": count([t for q in questions for t in q.tags]),
        "manual": sum(1 for q in questions if not q.objective),
        "errors": [str(e) for e in loaded.errors],
    }


def questions(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Bank files or folders; default: question_banks/ and $SANDBOX_QUESTIONS.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise question banks: counts by type, locale, trade, difficulty and tag."""
    chosen = list(paths or bank_folders(Settings()))
    missing = [p for p in chosen if not p.exists()]
    if missing:
        raise fail(f"{missing[0]}: no such file or folder")
    loaded = load_banks(chosen)
    data = summary(loaded)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(
            table(
                ["bank", "locale", "trade", "questions"],
                [[b["id"], b["locale"], b["trade"], b["questions"]] for b in data["banks"]],  # type: ignore[attr-defined]
            )
        )
        typer.echo("")
        for key in ("by_type", "by_locale", "by_trade", "by_difficulty", "by_tag"):
            counts = data[key]
            assert isinstance(counts, dict)
            shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
            typer.echo(f"{key.removeprefix('by_')}: {shown}")
        typer.echo(f"{data['questions']} questions ({data['manual']} marked by a person)")
        for problem in loaded.errors:
            typer.echo(str(problem), err=True)
    if loaded.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(questions)
