"""Regrading stored attempts against the packs loaded now, keeping reviewers' overrides.

The pure steps: `grade_job` grades one stored conversation (packs and messages in, a grade
record out, so it can run in another process), `plan` compares the new grades, with each
attempt's overrides re-applied, with what is stored. Reading the jobs and writing a plan's
changes are storage's (`sandbox.storage.regrade`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from sandbox.evaluator import records
from sandbox.evaluator.grading import grade_compiled
from sandbox.evaluator.transcript import Transcript, TranscriptMessage
from sandbox.scenarios.models import Pack

#: Why an attempt could not be regraded: codes, worded by the interface and the CLI.
Problem = Literal["pack-missing", "scenario-missing", "error"]
PROBLEMS: tuple[Problem, ...] = get_args(Problem)


@dataclass(frozen=True)
class Job:
    """What grading one attempt needs; plain data, so it can go to another process."""

    attempt_id: int
    pack_id: str
    scenario_id: str
    time_limit_s: float
    messages: tuple[tuple[str, str, float], ...]  # (role, text, at)


@dataclass(frozen=True)
class Regraded:
    """A job's result: the new automatic grade record, or why there is none."""

    attempt_id: int
    record: dict[str, Any] | None
    problem: Problem | None = None
    detail: str = ""


@dataclass(frozen=True)
class Change:
    """One attempt's stored headline against the one a regrade gives."""

    attempt_id: int
    user_name: str
    pack_id: str
    scenario_id: str
    old: records.Headline
    new: records.Headline
    record: dict[str, Any]
    dropped_overrides: list[str]

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass
class Plan:
    """What a regrade would do: the attempts whose score, band or pass change, and the rest."""

    changes: list[Change] = field(default_factory=list)
    unchanged: list[Change] = field(default_factory=list)
    problems: list[Regraded] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return len(self.changes) + len(self.unchanged) + len(self.problems)


def grade_job(packs: Mapping[str, Pack], job: Job) -> Regraded:
    """Grade one stored conversation against the pack loaded now."""
    pack = packs.get(job.pack_id)
    if pack is None:
        return Regraded(job.attempt_id, None, "pack-missing")
    compiled = pack.compiled.get(job.scenario_id)
    if compiled is None:
        return Regraded(job.attempt_id, None, "scenario-missing")
    transcript = Transcript(
        job.pack_id,
        job.scenario_id,
        [TranscriptMessage(role, text, at) for role, text, at in job.messages],  # type: ignore[arg-type]
    )
    graded = grade_compiled(pack.id, compiled, transcript, job.time_limit_s)
    record = graded.to_record()
    record["pack_version"] = pack.version
    return Regraded(job.attempt_id, record)


class StoredAttempt(Protocol):
    """What the plan reads of a stored attempt."""

    @property
    def id(self) -> int | None: ...
    @property
    def user_id(self) -> int: ...
    @property
    def pack_id(self) -> str: ...
    @property
    def scenario_id(self) -> str: ...
    @property
    def score(self) -> float | None: ...
    @property
    def band(self) -> str | None: ...
    @property
    def passed(self) -> bool | None: ...


def plan(
    *,
    attempts: Sequence[StoredAttempt],
    results: Iterable[Regraded],
    overrides: Mapping[int, Mapping[str, str]],
    names: Mapping[int, str],
) -> Plan:
    """Compare each new grade, with the attempt's overrides (by attempt id) re-applied, with
    what is stored; `names` are the owners' names by user id."""
    by_id = {a.id: a for a in attempts if a.id is not None}
    result = Plan()
    for regraded in sorted(results, key=lambda r: r.attempt_id):
        attempt = by_id.get(regraded.attempt_id)
        if attempt is None:
            continue
        if regraded.record is None:
            result.problems.append(regraded)
            continue
        kept, dropped = records.applicable(regraded.record, overrides.get(regraded.attempt_id, {}))
        effective = records.overridden(regraded.record, kept)
        change = Change(
            attempt_id=regraded.attempt_id,
            user_name=names.get(attempt.user_id, ""),
            pack_id=attempt.pack_id,
            scenario_id=attempt.scenario_id,
            old=records.Headline(
                float(attempt.score or 0.0), str(attempt.band or ""), bool(attempt.passed)
            ),
            new=records.Headline.of(effective),
            record=effective,
            dropped_overrides=dropped,
        )
        (result.changes if change.changed else result.unchanged).append(change)
    return result
