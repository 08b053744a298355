"""Stored grade records: the evaluator's own verdict, a reviewer's overrides on top of it.

A record is what `Grade.to_record()` gives (older web grades are `to_json()` plus
`pack_version`). When a reviewer overrides criteria, the record keeps the effective
statuses and headline (what every reader of grades should see) and the automatic ones
beside them: each overridden criterion carries `automatic_status`, the record carries
`automatic` (score, band, passed and the critical lists as the evaluator gave them).
`automatic(record)` gives the evaluator's record back, so overrides can always be
re-applied from scratch, after a regrade too.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.evaluator.scoring import (
    DEFAULT_BANDS,
    FORBIDDEN_STATUSES,
    REQUIRED_STATUSES,
    Bands,
    OverrideError,
    apply_overrides,
    score_verdicts,
    verdicts_from_record,
)
from sandbox.scenarios.models import Scenario

HEADLINE_KEYS = ("score", "band", "passed", "critical_missed", "critical_violated")
DEFAULT_PASS_MARK = 70.0


@dataclass(frozen=True)
class Headline:
    """What a grade's reader sees first: the rounded score, the band, passed or not."""

    score: float
    band: str
    passed: bool

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Headline:
        return cls(float(record["score"]), str(record["band"]), bool(record["passed"]))

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "band": self.band, "passed": self.passed}


def allowed_statuses(kind: str) -> tuple[str, ...]:
    """The statuses a criterion of this kind can have."""
    return FORBIDDEN_STATUSES if kind == "forbidden" else REQUIRED_STATUSES


def automatic(record: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluator's record: overridden statuses and the automatic headline put back."""
    data = copy.deepcopy(dict(record))
    headline = data.pop("automatic", None)
    for entry in data.get("criteria", []):
        if "automatic_status" in entry:
            entry["status"] = entry.pop("automatic_status")
    if isinstance(headline, Mapping):
        data.update({key: copy.deepcopy(headline[key]) for key in HEADLINE_KEYS if key in headline})
    return data


def complete(record: Mapping[str, Any], scenario: Scenario | None) -> dict[str, Any]:
    """The record with what recomputing needs: each criterion's `critical`, the `pass_mark`.

    `scenario` is the rubric the record was graded against (None when that version is no
    longer loaded): then a criterion counts as critical when the record lists it as a
    critical miss or violation, and the pass mark is the format's default.
    """
    data = copy.deepcopy(dict(record))
    rubric = {c.id: c for c in scenario.rubric.criteria} if scenario is not None else {}
    listed = set(data.get("critical_missed", [])) | set(data.get("critical_violated", []))
    auto = data.get("automatic")
    if isinstance(auto, Mapping):
        listed |= set(auto.get("critical_missed", [])) | set(auto.get("critical_violated", []))
    for entry in data.get("criteria", []):
        criterion = rubric.get(entry["id"])
        if "critical" not in entry:
            entry["critical"] = criterion.critical if criterion else entry["id"] in listed
        if "description" not in entry and criterion is not None:
            entry["description"] = criterion.description
    if "pass_mark" not in data:
        data["pass_mark"] = scenario.rubric.pass_mark if scenario else DEFAULT_PASS_MARK
    return data


def applicable(
    record: Mapping[str, Any], overrides: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The overrides that still fit the record's criteria, and the ids of those that do not.

    After a regrade a criterion may be gone, or its kind may have changed so that the
    overridden status is no longer one it can have.
    """
    kinds = {entry["id"]: entry["kind"] for entry in record.get("criteria", [])}
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for criterion_id, status in overrides.items():
        kind = kinds.get(criterion_id)
        if kind is not None and status in allowed_statuses(kind):
            kept[criterion_id] = status
        else:
            dropped.append(criterion_id)
    return kept, dropped


def _bands(record: Mapping[str, Any]) -> Bands:
    given = record.get("bands")
    if not given:
        return DEFAULT_BANDS
    return tuple((float(floor), str(name)) for floor, name in given)


def overridden(record: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """The effective record: `overrides` (criterion id to status) on the automatic verdict.

    The score, band and pass are recomputed with the same arithmetic as grading. Raises
    `OverrideError` for an unknown criterion or a status its kind cannot have.
    """
    base = automatic(record)
    if not overrides:
        return base
    verdicts = apply_overrides(verdicts_from_record(base), overrides)
    outcome = score_verdicts(
        verdicts, float(base.get("pass_mark", DEFAULT_PASS_MARK)), _bands(base)
    )
    data = copy.deepcopy(base)
    data["automatic"] = {key: copy.deepcopy(base[key]) for key in HEADLINE_KEYS if key in base}
    for entry, verdict in zip(data["criteria"], verdicts, strict=True):
        if verdict.id in overrides:
            entry["automatic_status"] = entry["status"]
            entry["status"] = verdict.status
    data.update(
        score=outcome.score,
        band=outcome.band,
        passed=outcome.passed,
        critical_missed=outcome.critical_missed,
        critical_violated=outcome.critical_violated,
    )
    return data


__all__ = [
    "Headline",
    "OverrideError",
    "allowed_statuses",
    "applicable",
    "automatic",
    "complete",
    "overridden",
]
