"""The work of `sandbox regrade`: grade stored attempts again after a pack changed, on every
core. Imported only when the command runs, so other commands start without the database stack."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlmodel import Session

from sandbox.cli.output import counted, fail, table
from sandbox.cli.web import load_settings
from sandbox.evaluator.regrade import Change, Job, Plan, Regraded, grade_job
from sandbox.scenarios.library import PackLibrary, load_library, pack_folders
from sandbox.scenarios.loader import load_packs
from sandbox.scenarios.models import Pack
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.regrade import (
    AttemptRow,
    apply_plan,
    attempt_batches,
    count_attempts,
    jobs_for,
    plan,
)
from sandbox.text import segmenter
from sandbox.text.tone import tone

AUDIT_REASON = "sandbox regrade (command line)"
#: Why an attempt could not be regraded (`evaluator.regrade.PROBLEMS`), as the command says it.
PROBLEM_TEXT = {
    "pack-missing": "its pack is not loaded",
    "scenario-missing": "its scenario is no longer in the pack",
    "error": "grading failed",
}

_worker_packs: dict[str, Pack] = {}


def _start_worker(folders: Sequence[Path]) -> None:
    """Load the packs in a worker that did not inherit them (a spawned process)."""
    loaded = load_packs([folder for folder in folders if folder.exists()])
    _worker_packs.update({pack.id: pack for pack in loaded.packs})


def _grade_in_worker(job: Job) -> Regraded:
    try:
        return grade_job(_worker_packs, job)
    except Exception as exc:  # one bad attempt is reported, not fatal to the run
        return Regraded(job.attempt_id, None, "error", f"{type(exc).__name__}: {exc}")


def _pool(packs: dict[str, Pack], folders: list[Path], workers: int) -> ProcessPoolExecutor:
    """Worker processes that hold the packs: forked with them where the OS can fork, else
    spawned to load them again."""
    if "fork" in multiprocessing.get_all_start_methods():
        _worker_packs.clear()
        _worker_packs.update(packs)
        # Load TextBlob's lexicon and jieba's dictionary once, here, rather than once in
        # every worker after the fork (about a second each).
        locales = {pack.locale for pack in packs.values()}
        if "en" in locales:
            tone("Thank you, that is good.", "en")
        if "zh-CN" in locales:
            segmenter.warm_up()
        fork = multiprocessing.get_context("fork")
        return ProcessPoolExecutor(max_workers=workers, mp_context=fork)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(folders,),
    )


def _graded_batches(
    session: Session,
    batches: Iterator[list[AttemptRow]],
    total: int,
    packs: dict[str, Pack],
    folders: list[Path],
    workers: int,
) -> Iterator[tuple[list[AttemptRow], list[Regraded]]]:
    """Each batch of attempts with its new grades, graded in a pool of `workers` processes,
    with a bar on stderr. The next batch is read and handed to the pool before this one's
    results are collected, so the workers never wait for the database: memory holds two
    batches, whatever the number of attempts."""
    progress = Progress(
        TextColumn("regrading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with _pool(packs, folders, workers) as pool:

        def submit(rows: list[AttemptRow]) -> tuple[list[AttemptRow], Iterator[Regraded]]:
            work = jobs_for(session=session, attempts=rows)
            chunksize = max(1, min(32, len(work) // (workers * 4)))
            return rows, pool.map(_grade_in_worker, work, chunksize=chunksize)

        first = next(batches, None)
        if first is None:
            return
        # The first batch is submitted, so every worker is forked, before the bar starts its
        # refresh thread: a fork never copies a thread's half-held lock.
        ahead: tuple[list[AttemptRow], Iterator[Regraded]] | None = submit(first)
        with progress:
            task = progress.add_task("regrade", total=total)
            while ahead is not None:
                rows, pending = ahead
                following = next(batches, None)
                ahead = submit(following) if following is not None else None
                results = []
                for result in pending:
                    progress.advance(task)
                    results.append(result)
                yield rows, results


def _resolve(
    library: PackLibrary, pack_id: str | None, scenario: str | None
) -> tuple[str | None, str | None]:
    """The pack and scenario ids to select by, or a usage error naming what exists."""
    if pack_id is not None and pack_id not in library.packs:
        loaded = ", ".join(sorted(library.packs)) or "none"
        raise fail(f"no pack {pack_id!r} is loaded (loaded: {loaded})")
    if scenario is None:
        return pack_id, None
    wanted_pack, _, scenario_id = scenario.rpartition("/")
    if wanted_pack and pack_id and wanted_pack != pack_id:
        raise fail(f"--scenario {scenario!r} is not in --pack {pack_id!r}")
    wanted_pack = wanted_pack or pack_id or ""
    owners = [
        p.id
        for p, s in library.scenarios()
        if s.id == scenario_id and (not wanted_pack or p.id == wanted_pack)
    ]
    if wanted_pack and wanted_pack not in library.packs:
        raise fail(f"no pack {wanted_pack!r} is loaded")
    if not owners:
        raise fail(f"no scenario {scenario!r} in the loaded packs")
    if len(owners) > 1:
        choices = ", ".join(f"{owner}/{scenario_id}" for owner in owners)
        raise fail(f"scenario {scenario_id!r} is in several packs; name one of: {choices}")
    return owners[0], scenario_id


def _verdict(passed: bool) -> str:
    return "passed" if passed else "not passed"


def _rows(changes: list[Change]) -> list[list[object]]:
    return [
        [
            c.attempt_id,
            c.user_name,
            f"{c.pack_id}/{c.scenario_id}",
            f"{c.old.score:.1f} {c.old.band} {_verdict(c.old.passed)}",
            f"{c.new.score:.1f} {c.new.band} {_verdict(c.new.passed)}",
            ", ".join(c.dropped_overrides) or "-",
        ]
        for c in changes
    ]


def _report(outcome: Plan) -> None:
    if outcome.changes:
        headers = ["attempt", "trainee", "scenario", "now", "after regrade", "dropped overrides"]
        typer.echo(table(headers, _rows(outcome.changes)))
    for problem in outcome.problems:
        why = PROBLEM_TEXT.get(problem.problem or "", problem.problem)
        detail = f" ({problem.detail})" if problem.detail else ""
        typer.echo(f"attempt {problem.attempt_id}: not regraded: {why}{detail}", err=True)


def run(
    pack: str | None,
    scenario: str | None,
    dry_run: bool,
    all_attempts: bool,
    jobs: int | None,
) -> None:
    """The body of `sandbox regrade` (see `sandbox.cli.regrade`)."""
    if not (pack or scenario or all_attempts):
        raise fail("choose what to regrade: --pack ID, --scenario ID or --all")
    settings = load_settings()
    library = load_library(settings)
    for problem in library.errors:
        typer.echo(f"pack skipped: {problem}", err=True)
    pack_id, scenario_id = _resolve(library, pack, scenario)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            total = count_attempts(session=session, pack_id=pack_id, scenario_id=scenario_id)
            if not total:
                typer.echo("no graded attempts match")
                return
            # Reading the first batch takes a moment before the bar can start: say so.
            count = counted(total, "attempt")
            typer.echo(f"reading {count} and their messages, a batch at a time…", err=True)
            workers = max(1, min(jobs or os.cpu_count() or 1, total))
            batches = attempt_batches(session=session, pack_id=pack_id, scenario_id=scenario_id)
            outcome = Plan()  # what is reported: the changes without their grade records
            checked = 0
            applied = 0
            graded = _graded_batches(
                session, batches, total, library.packs, pack_folders(settings), workers
            )
            for rows, results in graded:
                part = plan(session=session, attempts=rows, results=results)
                checked += part.checked
                outcome.problems += part.problems
                if not dry_run:
                    applied += len(
                        apply_plan(
                            session=session,
                            changes=part.changes,
                            actor_id=None,
                            reason=AUDIT_REASON,
                        )
                    )
                    session.expunge_all()  # written and flushed: memory holds one batch
                outcome.changes += [replace(c, record={}) for c in part.changes]
            _report(outcome)
            summary = f"{counted(checked, 'attempt')} checked"
            if dry_run:
                would = len(outcome.changes)
                typer.echo(f"{summary}; {would} would change (dry run: nothing stored)")
                return
            session.commit()
    finally:
        engine.dispose()
    typer.echo(f"{summary}; {applied} regraded")
