"""The mentor's regrade as background jobs: the dry run (what would change, kept to read
later and to choose from) and applying the chosen changes, a batch of attempts at a time
(`storage/regrade.py`), with progress after each batch and cancellable between them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from sandbox import access
from sandbox.evaluator.regrade import Change, Plan, Regraded, grade_job
from sandbox.storage import regrade
from sandbox.storage.jobs import BAD_PARAMS, Outcome
from sandbox.storage.models import User
from sandbox.web.i18n import N_
from sandbox.web.jobs import JobContext, JobError, Kind, register

#: The longest reason kept with an applied regrade (as the form's field allows).
REASON_MAX = 500
#: The most attempts one apply job takes (a dry run lists at most this many to choose).
APPLY_MAX = 100_000


def regrade_scope(session: Session, reviewer: User) -> list[int] | None:
    """The owners whose attempts the reviewer may regrade; None for everyone (admins)."""
    if access.sees_every_trainee(reviewer):
        return None
    statement = select(User.id).where(User.mentor_id == reviewer.id)
    return [user_id for user_id in session.exec(statement).all() if user_id is not None]


def _text(value: Any, longest: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= longest


def check_dry_run(params: dict[str, Any]) -> list[str]:
    """The dry run's parameters: a pack id and an optional scenario id."""
    problems = []
    if not _text(params.get("pack"), 64):
        problems.append(N_("mentor.regrade.error.pack"))
    scenario = params.get("scenario")
    if scenario is not None and not _text(scenario, 64):
        problems.append(N_("mentor.regrade.error.scenario"))
    return problems


def check_apply(params: dict[str, Any]) -> list[str]:
    """Applying: the dry run's fields, the chosen attempt ids and an optional reason."""
    problems = check_dry_run(params)
    ids = params.get("attempts")
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > APPLY_MAX
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
    ):
        problems.append(N_("mentor.regrade.error.none_chosen"))
    reason = params.get("reason")
    if reason is not None and not (isinstance(reason, str) and len(reason) <= REASON_MAX):
        problems.append(BAD_PARAMS)
    return problems


def _reviewer(session: Session, context: JobContext) -> User:
    reviewer = session.get(User, context.created_by) if context.created_by else None
    if reviewer is None or not access.can_enter_mentor_area(reviewer) or not reviewer.active:
        raise JobError(BAD_PARAMS, "the job's starter is no longer a mentor or an admin")
    return reviewer


def _chosen(context: JobContext) -> tuple[str, str | None]:
    """The pack and scenario, as loaded now (a pack may have gone since the job was queued)."""
    library = context.state.library
    pack_id: str = context.params["pack"]
    scenario_id: str | None = context.params.get("scenario")
    if pack_id not in library.packs:
        raise JobError(N_("mentor.regrade.error.pack"), f"no pack {pack_id!r} is loaded")
    if scenario_id is not None and library.find(pack_id, scenario_id) is None:
        raise JobError(
            N_("mentor.regrade.error.scenario"), f"no scenario {scenario_id!r} in {pack_id!r}"
        )
    return pack_id, scenario_id


def _change(change: Change) -> dict[str, Any]:
    """A change as the job's result keeps it: the headlines, not the grade record."""
    return {
        "attempt_id": change.attempt_id,
        "user_name": change.user_name,
        "pack_id": change.pack_id,
        "scenario_id": change.scenario_id,
        "old": change.old.as_dict(),
        "new": change.new.as_dict(),
        "dropped_overrides": list(change.dropped_overrides),
    }


def _problem(found: Regraded) -> dict[str, Any]:
    return {"attempt_id": found.attempt_id, "problem": found.problem, "detail": found.detail}


def _graded(context: JobContext, session: Session, rows: Any) -> Plan:
    packs = context.state.library.packs
    results = [grade_job(packs, job) for job in regrade.jobs_for(session=session, attempts=rows)]
    return regrade.plan(session=session, attempts=rows, results=results)


def run_dry_run(context: JobContext) -> Outcome:
    """Grade the chosen attempts again, a batch at a time, and keep what would change."""
    pack_id, scenario_id = _chosen(context)
    changes: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    checked = 0
    with Session(context.engine, expire_on_commit=False) as session:
        scope = regrade_scope(session, _reviewer(session, context))
        total = regrade.count_attempts(
            session=session, pack_id=pack_id, scenario_id=scenario_id, user_ids=scope
        )
        context.progress(0, total)
        batches = regrade.attempt_batches(
            session=session, pack_id=pack_id, scenario_id=scenario_id, user_ids=scope
        )
        for rows in batches:
            part = _graded(context, session, rows)
            session.rollback()  # nothing written: end the read before the next batch
            checked += part.checked
            changes += [_change(c) for c in part.changes]
            problems += [_problem(p) for p in part.problems]
            context.progress(checked, max(total, checked))
    return Outcome(
        result={
            "pack": pack_id,
            "scenario": scenario_id,
            "checked": checked,
            "changes": changes,
            "problems": problems,
        }
    )


def run_apply(context: JobContext) -> Outcome:
    """Regrade the chosen attempts and store what changed, a batch at a time, each batch
    committed with its audit events (a cancelled job keeps the batches it finished)."""
    pack_id, scenario_id = _chosen(context)
    wanted = sorted(set(context.params["attempts"]))
    reason = (context.params.get("reason") or "").strip()[:REASON_MAX] or None
    applied: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    checked = 0
    context.progress(0, len(wanted))
    for start in range(0, len(wanted), regrade.BATCH):
        with Session(context.engine, expire_on_commit=False) as session:
            reviewer = _reviewer(session, context)
            rows = regrade.select_attempts(
                session=session,
                pack_id=pack_id,
                scenario_id=scenario_id,
                user_ids=regrade_scope(session, reviewer),
                attempt_ids=wanted[start : start + regrade.BATCH],
            )
            part = _graded(context, session, rows)
            done = set(
                regrade.apply_plan(
                    session=session, changes=part.changes, actor_id=reviewer.id, reason=reason
                )
            )
            session.commit()
        checked += part.checked
        applied += [_change(c) for c in part.changes if c.attempt_id in done]
        problems += [_problem(p) for p in part.problems]
        context.progress(min(len(wanted), start + regrade.BATCH))
    return Outcome(
        result={
            "pack": pack_id,
            "scenario": scenario_id,
            "checked": checked,
            "applied": applied,
            "problems": problems,
        }
    )


DRY_RUN = register(
    Kind("regrade.dry_run", N_("jobs.kind.regrade.dry_run"), run_dry_run, check_dry_run)
)
APPLY = register(Kind("regrade.apply", N_("jobs.kind.regrade.apply"), run_apply, check_apply))

#: Every regrade kind, for the regrade page's list of its jobs.
KINDS = (DRY_RUN.name, APPLY.name)
