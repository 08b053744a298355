"""xAPI statements (Experience API 1.0.3) for graded activities: reports that leave the product.

Pure: the caller reads the attempts and hands over `ActivityRecord`s; this module only shapes
JSON. Each finished activity yields, in order:

- `attempted` (when it started),
- `answered` (when it ended; `result.response` says how many replies the trainee wrote),
- `scored` (the score, once graded; criterion results as the extension `CRITERIA_EXTENSION`),
- `passed` or `failed` (once the outcome is decided).

Statement ids are name-based UUIDs of the activity's `key` and the verb, so exporting or
pushing the same attempt twice gives the same ids and a learning record store keeps one copy
(xAPI 1.0.3 part 2, 2.2: an LRS must not store a second statement with the same id).

**Hook for quizzes**: a quiz attempt becomes an `ActivityRecord` with `kind="quiz"`,
`activity_type=QUIZ_ACTIVITY_TYPE` and its questions as `criteria` (status "met" for a right
answer, "missed" for a wrong one); nothing else here changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

XAPI_VERSION = "1.0.3"
VERBS = {
    "attempted": "http://adlnet.gov/expapi/verbs/attempted",
    "answered": "http://adlnet.gov/expapi/verbs/answered",
    "scored": "http://adlnet.gov/expapi/verbs/scored",
    "passed": "http://adlnet.gov/expapi/verbs/passed",
    "failed": "http://adlnet.gov/expapi/verbs/failed",
}
CONVERSATION_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/simulation"
QUIZ_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/assessment"
EXAM_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/assessment"
COHORT_ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/course"
#: Relative to the base IRI: the per-criterion results of a scored statement.
CRITERIA_EXTENSION = "/xapi/extensions/criteria"
#: Relative to the base IRI: the product's own id of the attempt.
ATTEMPT_EXTENSION = "/xapi/extensions/attempt"
_NAMESPACE = uuid.UUID("5b1f3c2e-9d7a-4c58-8a1e-2f6d0c4b7a91")


@dataclass(frozen=True)
class CriterionResult:
    id: str
    status: str  # met, missed, clear, violated, not_applicable (quizzes: met or missed)
    description: str | None = None
    critical: bool = False


@dataclass(frozen=True)
class ActivityRecord:
    """One finished attempt at a scenario (or, later, a quiz), as the statements need it."""

    key: str  # unique and stable, e.g. "attempt:42" or "quiz-attempt:7"
    kind: Literal["conversation", "quiz"]
    learner: str  # the account name
    activity: str  # path under the base IRI, e.g. "scenarios/pack/scenario"
    title: str
    started_at: datetime
    ended_at: datetime | None = None
    graded_at: datetime | None = None
    score: float | None = None  # 0 to 100
    passed: bool | None = None
    responses: int = 0  # the trainee's replies (quiz: answers given)
    criteria: Sequence[CriterionResult] = ()
    activity_type: str = CONVERSATION_ACTIVITY_TYPE
    parents: Sequence[tuple[str, str, str]] = field(default=())  # (path, title, type)


def criteria_from_grade(grade: dict[str, Any] | None) -> tuple[CriterionResult, ...]:
    """The criterion results of a stored grade (`Grade.to_record()`), overrides included."""
    if not grade:
        return ()
    return tuple(
        CriterionResult(
            id=str(c["id"]),
            status=str(c["status"]),
            description=c.get("description"),
            critical=bool(c.get("critical", False)),
        )
        for c in grade.get("criteria", [])
    )


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _duration(start: datetime, end: datetime) -> str:
    seconds = max((end - start).total_seconds(), 0.0)
    text = f"{seconds:.2f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def _iri(base: str, path: str) -> str:
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def statements(record: ActivityRecord, base: str) -> list[dict[str, Any]]:
    """The statements of one activity, oldest first (see the module's docstring)."""
    actor = {
        "objectType": "Agent",
        "name": record.learner,
        "account": {"homePage": base.rstrip("/"), "name": record.learner},
    }
    activity = {
        "objectType": "Activity",
        "id": _iri(base, record.activity),
        "definition": {
            "name": {"en-US": record.title},
            "type": record.activity_type,
        },
    }
    context: dict[str, Any] = {
        "registration": str(uuid.uuid5(_NAMESPACE, record.key)),
        "platform": "Sandbox",
        "extensions": {_iri(base, ATTEMPT_EXTENSION): record.key},
    }
    if record.parents:
        context["contextActivities"] = {
            "parent": [
                {
                    "objectType": "Activity",
                    "id": _iri(base, path),
                    "definition": {"name": {"en-US": title}, "type": kind},
                }
                for path, title, kind in record.parents
            ]
        }

    def make(verb: str, when: datetime, result: dict[str, Any] | None) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "id": str(uuid.uuid5(_NAMESPACE, f"{record.key}/{verb}")),
            "actor": actor,
            "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
            "object": activity,
            "context": context,
            "timestamp": _timestamp(when),
            "version": XAPI_VERSION,
        }
        if result is not None:
            statement["result"] = result
        return statement

    found = [make("attempted", record.started_at, None)]
    if record.ended_at is None:
        return found
    duration = _duration(record.started_at, record.ended_at)
    found.append(
        make(
            "answered",
            record.ended_at,
            {"completion": True, "duration": duration, "response": str(record.responses)},
        )
    )
    if record.score is None:
        return found
    score = max(0.0, min(100.0, float(record.score)))
    graded = {
        "score": {"scaled": round(score / 100, 4), "raw": score, "min": 0, "max": 100},
        "completion": True,
        "duration": duration,
        "extensions": {
            _iri(base, CRITERIA_EXTENSION): [
                {
                    "id": c.id,
                    "status": c.status,
                    "description": c.description,
                    "critical": c.critical,
                }
                for c in record.criteria
            ]
        },
    }
    when = record.graded_at or record.ended_at
    found.append(make("scored", when, graded))
    if record.passed is not None:
        outcome = {**graded, "success": record.passed}
        found.append(make("passed" if record.passed else "failed", when, outcome))
    return found


def all_statements(records: Iterable[ActivityRecord], base: str) -> list[dict[str, Any]]:
    """Every record's statements, in the order given."""
    return [s for record in records for s in statements(record, base)]
