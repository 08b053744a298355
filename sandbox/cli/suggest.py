"""`sandbox suggest PACK --from-overrides`: pack changes that reviewers' overrides suggest,
each with its effect on the pack's own examples and on stored attempts (a dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from sandbox.evaluator.suggest import Suggestion
    from sandbox.scenarios.models import Pack
    from sandbox.storage.models import Attempt
    from sandbox.storage.reviews import GradeOverride


from sandbox.cli.output import fail

SHOWN_IDS = 10


def _suggestions(session: Session, pack: Pack) -> list[Suggestion]:
    """One suggestion per override in force on the pack's attempts, oldest attempt first."""
    from sqlmodel import col, select

    from sandbox.evaluator.suggest import Suggestion, closest_clause, example_for, where_for
    from sandbox.storage.attempts import list_messages
    from sandbox.storage.models import Attempt, Speaker, User
    from sandbox.storage.reviews import GradeOverride, current_overrides

    rows = session.exec(
        select(GradeOverride, User.name, Attempt)
        .join(User, col(User.id) == col(GradeOverride.author_id))
        .join(Attempt, col(Attempt.id) == col(GradeOverride.attempt_id))
        .where(Attempt.pack_id == pack.id)
        .order_by(col(GradeOverride.id))
    ).all()
    latest: dict[tuple[int, str], tuple[GradeOverride, str, Attempt]] = {}
    for row, name, attempt in rows:
        latest[(row.attempt_id, row.criterion_id)] = (row, name, attempt)
    found: list[Suggestion] = []
    for (attempt_id, criterion_id), (row, name, attempt) in sorted(latest.items()):
        in_force = current_overrides(session=session, attempt_id=attempt_id)
        status = in_force.get(criterion_id)
        scenario = next((s for s in pack.scenarios if s.id == attempt.scenario_id), None)
        criterion = (
            next((c for c in scenario.rubric.criteria if c.id == criterion_id), None)
            if scenario
            else None
        )
        if status is None or scenario is None or criterion is None:
            continue
        lines = [
            (m.text, m.at)
            for m in list_messages(session=session, attempt_id=attempt_id)
            if m.role == Speaker.TRAINEE
        ]
        record = attempt.grade or {}
        violated = [
            str(c["id"]) for c in record.get("criteria", []) if c.get("status") == "violated"
        ]
        where = where_for(row.automatic_status, status)
        phrase = (
            closest_clause([t for t, _ in lines], criterion.description or criterion.id)
            if where
            else None
        )
        why = None
        if where and phrase is None:
            why = "no clause of the conversation shares a word with the criterion"
        elif where is None:
            why = f"a change from {row.automatic_status} to {status} suggests an example only"
        found.append(
            Suggestion(
                scenario.id,
                criterion_id,
                criterion.kind,
                row.automatic_status,
                status,
                row.reason,
                name,
                attempt_id,
                example_for(
                    f"reviewed: attempt {attempt_id}, {criterion_id} {status}",
                    lines,
                    criterion_id,
                    status,
                    violated,
                ),
                phrase,
                where if phrase else None,
                why,
            )
        )
    return found


def _load(data: dict[str, Any], source: str, lexicon: Any) -> Pack:
    import yaml

    from sandbox.scenarios.loader import load_pack_text

    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return load_pack_text(text, source, lexicon)


def _failing(pack: Pack) -> set[str]:
    from sandbox.evaluator.examples import run_pack

    return {result.name for result in run_pack(pack) if not result.passed}


def _status(record: dict[str, Any] | None, criterion: str) -> str | None:
    for entry in (record or {}).get("criteria", []):
        if entry.get("id") == criterion:
            return str(entry.get("status"))
    return None


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
    from sandbox.evaluator.regrade import grade_job
    from sandbox.evaluator.suggest import with_example, with_phrase
    from sandbox.scenarios.errors import PackErrors
    from sandbox.scenarios.library import load_library, organisation_lexicon
    from sandbox.storage.database import make_engine, upgrade
    from sandbox.storage.regrade import jobs_for, select_attempts

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
    baseline = _failing(loaded)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            found = _suggestions(session, loaded)
            if not found:
                typer.echo(f"no overrides in force on attempts at {pack}: nothing to suggest")
                return
            stored: dict[str, list[Any]] = {}
            for s in found:
                if s.scenario not in stored:
                    attempts = select_attempts(
                        session=session, pack_id=pack, scenario_id=s.scenario
                    )
                    stored[s.scenario] = jobs_for(session=session, attempts=attempts)
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
        changed = with_example(data, s.scenario, s.example)
        if s.phrase and s.where:
            typer.echo(f"   phrase: add '{s.phrase}' to the criterion's `{s.where}`")
            phrased = with_phrase(changed, s.scenario, s.criterion, s.phrase, s.where)
            if phrased is None:
                typer.echo("   (the match has word groups: add the phrase by hand)")
            else:
                changed = phrased
        else:
            typer.echo(f"   phrase: none ({s.why_no_phrase})")
        try:
            candidate = _load(changed, source, lexicon)
        except PackErrors as errors:
            typer.echo(f"   effect: the changed pack does not load: {errors.errors[0]}")
            continue
        failing = _failing(candidate) - baseline
        if failing:
            for name in sorted(failing):
                typer.echo(f"   effect on examples: BREAKS {name}")
        else:
            typer.echo("   effect on examples: every example passes (the new one too)")
        jobs = stored.get(s.scenario, [])
        moved = [
            job.attempt_id
            for job in jobs
            if _status(grade_job({pack: loaded}, job).record, s.criterion)
            != _status(grade_job({pack: candidate}, job).record, s.criterion)
        ]
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
