"""`sandbox suggest PACK --from-overrides`: pack changes that reviewers' overrides suggest,
each with its effect on the pack's own examples and on stored attempts (a dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.output import fail

SHOWN_IDS = 10


def suggest(
    pack: Annotated[str, typer.Argument(help="The pack's id.")],
    from_overrides: Annotated[
        bool,
        typer.Option(
            "--from-overrides",
            help="Suggest from reviewers' overrides in force on the pack's stored attempts.",
        ),
    ] = False,
) -> None:
    """List pack changes that reviewers' overrides suggest (a new example, a phrase for the
    criterion) with their effect on the pack's examples and on stored attempts. A dry run:
    nothing is written; a suggestion that breaks an example says so."""
    import yaml
    from sqlmodel import Session

    from sandbox.cli.web import load_settings
    from sandbox.evaluator.suggest import effect, failing
    from sandbox.scenarios.library import load_library, organisation_lexicon
    from sandbox.storage import suggestions
    from sandbox.storage.database import make_engine, upgrade

    if not from_overrides:
        raise fail("choose where suggestions come from: --from-overrides")
    settings = load_settings()
    library = load_library(settings)
    loaded = library.packs.get(pack)
    if loaded is None:
        raise fail(f"no pack '{pack}' is loaded (see `sandbox list`)")
    source = loaded.source
    if not source or not Path(source).is_file():
        raise fail(f"the pack '{pack}' was not read from a file this command can read again")
    data = yaml.safe_load(Path(source).read_text("utf-8"))
    lexicon = organisation_lexicon(settings, [])
    baseline = failing(loaded)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            found = suggestions.from_overrides(session=session, pack=loaded)
            if not found:
                typer.echo(f"no overrides in force on attempts at {pack}: nothing to suggest")
                return
            scenarios = [s.scenario for s in found]
            stored = suggestions.stored_jobs(session=session, pack_id=pack, scenarios=scenarios)
    finally:
        engine.dispose()
    plural = "" if len(found) == 1 else "s"
    typer.echo(f"{len(found)} suggestion{plural} for {pack} (dry run: nothing is written)")
    for number, s in enumerate(found, start=1):
        typer.echo("")
        typer.echo(
            f"{number}. {s.scenario} › {s.criterion} ({s.kind}): {s.automatic} -> {s.status}"
            f" by {s.author} on attempt {s.attempt_id}: {s.reason}"
        )
        typer.echo(f"   example: '{s.example['name']}' ({len(s.example['trainee'])} trainee lines)")
        if s.phrase and s.where:
            typer.echo(f"   phrase: add '{s.phrase}' to the criterion's `{s.where}`")
        else:
            typer.echo(f"   phrase: none ({s.why_no_phrase})")
        jobs = stored.get(s.scenario, [])
        result = effect(loaded, data, s, "both", lexicon=lexicon, baseline=baseline, jobs=jobs)
        if result.by_hand:
            typer.echo("   (the match has word groups: add the phrase by hand)")
        if result.problem is not None:
            typer.echo(f"   effect: the changed pack does not load: {result.problem}")
            continue
        if result.broken:
            for name in result.broken:
                typer.echo(f"   effect on examples: BREAKS {name}")
        else:
            typer.echo("   effect on examples: every example passes (the new one too)")
        moved = result.moved
        shown = ", ".join(str(i) for i in moved[:SHOWN_IDS]) + (
            " …" if len(moved) > SHOWN_IDS else ""
        )
        typer.echo(
            f"   effect on stored attempts: {len(moved)} of {len(jobs)} would change "
            f"{s.criterion}" + (f" ({shown})" if moved else "")
        )


def register(app: typer.Typer) -> None:
    """Add `suggest` to the `sandbox` app."""
    app.command()(suggest)
