"""What the review and case pages show: a timed transcript with the verdicts beside each
message, the criteria with their automatic and overridden statuses, anonymised copies."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from sandbox.evaluator import records
from sandbox.scenarios.models import Pack, Scenario
from sandbox.storage.models import Attempt, AttemptMessage, Speaker
from sandbox.storage.reviews import ReviewComment, comments_for, override_history
from sandbox.web.library import PackLibrary

BAD_STATUSES = ("missed", "violated")
NAME_PART_MIN = 3


@dataclass(frozen=True)
class Mark:
    """One criterion's verdict on one message (the message is evidence of it)."""

    criterion_id: str
    description: str
    status: str
    automatic_status: str | None

    @property
    def tone(self) -> str:
        return "good" if self.status in ("met", "clear") else "bad"


@dataclass
class Row:
    """A transcript line with its timing, the verdicts it carries and its comments."""

    seq: int
    role: str
    kind: str | None
    text: str
    at: float
    gap_s: float | None  # since the line before
    response_s: float | None  # trainee lines: since the persona's last line that was no nudge
    ignored: bool
    marks: list[Mark] = field(default_factory=list)
    comments: list[tuple[ReviewComment, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Graded:
    """An attempt's grade as the review shows it: the completed record and its rubric."""

    record: dict[str, Any] | None
    scenario: Scenario | None  # the scenario the record was graded against, if loaded
    pack: Pack | None  # the pack loaded now, whatever its version

    @property
    def overridden(self) -> bool:
        return bool(self.record and "automatic" in self.record)


def graded_view(library: PackLibrary, attempt: Attempt) -> Graded:
    """The attempt's record completed from the rubric it was graded against, when loaded."""
    found = library.find(attempt.pack_id, attempt.scenario_id)
    if attempt.grade is None:
        return Graded(None, found[1] if found else None, found[0] if found else None)
    version = attempt.grade.get("pack_version", attempt.pack_version)
    scenario = found[1] if found and found[0].version == version else None
    return Graded(records.complete(attempt.grade, scenario), scenario, found[0] if found else None)


def description_of(entry: Mapping[str, Any]) -> str:
    return str(entry.get("description") or entry["id"])


def timed_rows(
    messages: Sequence[AttemptMessage],
    record: Mapping[str, Any] | None,
    comments: Iterable[tuple[ReviewComment, str]] = (),
) -> list[Row]:
    """The transcript as rows with gaps, response times, verdicts and comments."""
    marks: dict[int, list[Mark]] = {}
    for entry in (record or {}).get("criteria", []):
        for evidence in entry.get("evidence", []):
            mark = Mark(
                entry["id"], description_of(entry), entry["status"], entry.get("automatic_status")
            )
            marks.setdefault(int(evidence["message"]), []).append(mark)
    ignored = set((record or {}).get("ignored_messages", []))
    by_message: dict[int, list[tuple[ReviewComment, str]]] = {}
    for comment, author in comments:
        if comment.message_seq is not None:
            by_message.setdefault(comment.message_seq, []).append((comment, author))
    rows: list[Row] = []
    previous_at: float | None = None
    persona_at = 0.0
    for message in messages:
        trainee = message.role == Speaker.TRAINEE
        rows.append(
            Row(
                seq=message.seq,
                role=str(message.role),
                kind=message.kind,
                text=message.text,
                at=message.at,
                gap_s=None if previous_at is None else max(0.0, message.at - previous_at),
                response_s=max(0.0, message.at - persona_at) if trainee else None,
                ignored=message.seq in ignored,
                marks=marks.get(message.seq, []),
                comments=by_message.get(message.seq, []),
            )
        )
        previous_at = message.at
        if not trainee and message.kind != "nudge":
            persona_at = message.at
    return rows


def criteria_rows(record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Each criterion with its description, statuses it may take and whether overridden."""
    rows = []
    for entry in (record or {}).get("criteria", []):
        row = dict(entry)
        row["description"] = description_of(entry)
        row["allowed"] = records.allowed_statuses(entry["kind"])
        row["overridden"] = "automatic_status" in entry
        rows.append(row)
    return rows


def missed_criteria(record: Mapping[str, Any] | None) -> set[str]:
    """Ids of the criteria missed or broken in a record."""
    return {
        entry["id"]
        for entry in (record or {}).get("criteria", [])
        if entry.get("status") in BAD_STATUSES
    }


def format_seconds(value: float | None) -> str:
    """Seconds as m:ss.s for a transcript line (an hour-long gap stays readable)."""
    if value is None:
        return ""
    minutes, tenths = divmod(round(max(0.0, value) * 10), 600)
    return f"{minutes}:{tenths / 10:04.1f}"


def redactor(owner_name: str, other_names: Iterable[str], mask: str) -> Callable[[str], str]:
    """A function that masks the owner's name (whole, its parts, spaced) and other users' names.

    Login names are ASCII; they are matched case-insensitively where no letter or digit
    touches them, so a name inside Chinese text is found too. Parts shorter than three
    letters (li, wu) are left alone: they are ordinary words too often.
    """
    terms = {owner_name}
    parts = [p for p in re.split(r"[._@\-\s]+", owner_name) if p]
    terms.update(p for p in parts if len(p) >= NAME_PART_MIN)
    if len(parts) > 1:
        terms.update({" ".join(parts), "-".join(parts), "".join(parts)})
    terms.update(name for name in other_names if name)
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)
    return lambda text: pattern.sub(mask, text)


@dataclass(frozen=True)
class FeedbackNotes:
    """What a trainee sees of their mentor's review on the feedback page."""

    comments: list[tuple[ReviewComment, str]]
    changes: list[dict[str, Any]]  # criterion, description, automatic, status, reason

    def __bool__(self) -> bool:
        return bool(self.comments or self.changes)


def feedback_notes(session: Session, attempt: Attempt) -> FeedbackNotes:
    """The mentor's comments on an attempt and the verdicts they changed, with why."""
    if attempt.id is None:
        return FeedbackNotes([], [])
    comments = comments_for(session=session, attempt_id=attempt.id)
    history = override_history(session=session, attempt_id=attempt.id)
    reasons = {row.criterion_id: row.reason for row, _ in history}
    changes = [
        {
            "criterion": entry["id"],
            "description": description_of(entry),
            "automatic": entry["automatic_status"],
            "status": entry["status"],
            "reason": reasons.get(entry["id"], ""),
        }
        for entry in (attempt.grade or {}).get("criteria", [])
        if "automatic_status" in entry
    ]
    return FeedbackNotes(comments, changes)
