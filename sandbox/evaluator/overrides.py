"""A reviewer's override of a criterion: checked and recomputed here, stored by storage.

Overrides are only ever added: the latest per criterion is the one in force, and one
without a status hands the criterion back to the evaluator (`overrides_in_force`).
`override` checks a change against the stored grade and gives everything storage keeps
of it: the row's statuses, the effective record with the automatic one beside it
(`evaluator.records`) and the headlines before and after for the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sandbox.evaluator import records
from sandbox.scenarios.models import Scenario

REASON_MAX_CHARS = 2000


class ReviewError(ValueError):
    """A reviewer's change refused: `field` names the form field, `key` the interface message
    (its values in `fields`); the message itself is the interface's to word."""

    def __init__(self, field: str, key: str, **fields: Any) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key
        self.fields = fields


class OverrideRow(Protocol):
    """What is read of a stored override."""

    @property
    def criterion_id(self) -> str: ...
    @property
    def status(self) -> str | None: ...


def overrides_in_force(rows: Iterable[OverrideRow]) -> dict[str, str]:
    """Criterion id to status from override rows in order: the latest row per criterion."""
    latest: dict[str, str | None] = {}
    for row in rows:
        latest[row.criterion_id] = row.status
    return {criterion: status for criterion, status in latest.items() if status is not None}


@dataclass(frozen=True)
class Override:
    """One accepted change of a criterion's status and the grade it gives."""

    criterion_id: str
    status: str | None  # None: back to the evaluator's
    reason: str
    automatic_status: str  # the evaluator's
    old_status: str  # in force before this change
    before: records.Headline
    after: records.Headline
    record: dict[str, Any]  # the effective record to store

    @property
    def new_status(self) -> str:
        return self.status or self.automatic_status


def override(
    grade: Mapping[str, Any] | None,
    *,
    criterion_id: str,
    status: str | None,
    reason: str,
    in_force: Mapping[str, str],
    scenario: Scenario | None = None,
) -> Override:
    """Set a criterion of a stored grade to `status` (None: the evaluator's) and recompute.

    `in_force` are the attempt's overrides now; `scenario` is the rubric the attempt was
    graded against when it is loaded (it supplies the critical flags and pass mark that
    older stored grades do not carry). Raises `ReviewError` when the change is refused.
    """
    if grade is None:
        raise ReviewError("criterion", "review.error.not_graded")
    reason = reason.strip()
    if not reason:
        raise ReviewError("reason", "review.error.reason_required")
    if len(reason) > REASON_MAX_CHARS:
        raise ReviewError("reason", "review.error.too_long", limit=REASON_MAX_CHARS)
    record = records.complete(grade, scenario)
    entry = next((c for c in record["criteria"] if c["id"] == criterion_id), None)
    if entry is None:
        raise ReviewError("criterion", "review.error.no_criterion")
    if status is not None and status not in records.allowed_statuses(entry["kind"]):
        raise ReviewError("status", "review.error.bad_status")
    overrides, _ = records.applicable(record, in_force)
    if status is None:
        overrides.pop(criterion_id, None)
    else:
        overrides[criterion_id] = status
    updated = records.overridden(record, overrides)
    return Override(
        criterion_id=criterion_id,
        status=status,
        reason=reason,
        automatic_status=str(entry.get("automatic_status", entry["status"])),
        old_status=str(entry["status"]),
        before=records.Headline.of(record),
        after=records.Headline.of(updated),
        record=updated,
    )
