"""What the review and case pages show: a timed transcript with the verdicts beside each
message, the criteria with their automatic and overridden statuses, anonymised copies."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from sandbox.evaluator import explain, records
from sandbox.evaluator.transcript import Transcript, TranscriptMessage
from sandbox.scenarios.library import PackLibrary
from sandbox.scenarios.models import Pack, Scenario
from sandbox.storage.attempts import list_messages
from sandbox.storage.models import Attempt, AttemptMessage, Speaker
from sandbox.storage.reviews import ReviewComment, comments_for, override_history

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


def verdict_reasons(
    graded: Graded, attempt: Attempt, messages: Sequence[AttemptMessage], staff: bool
) -> dict[str, str]:
    """Why the grader gave each verdict, one line each (`sandbox explain`'s reason): for
    staff with the deciding phrase, for the trainee without the rubric's words. Empty when
    the rubric the attempt was graded against is not loaded, or it was not graded."""
    if graded.record is None or graded.scenario is None or graded.pack is None:
        return {}
    lines = [
        TranscriptMessage("trainee" if m.role == Speaker.TRAINEE else "persona", m.text, m.at)
        for m in messages
    ]
    transcript = Transcript(attempt.pack_id, attempt.scenario_id, lines)
    compiled = graded.pack.compiled[graded.scenario.id]
    return explain.verdict_reasons(graded.pack.id, compiled, transcript, staff)


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


#: What a trainee keeps of a criterion on a case page: its id, kind and verdict.
VERDICT_KEYS = ("id", "kind", "status", "automatic_status", "evidence")


def without_rubric(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The record as a trainee sees it on a case page: each criterion's id and verdict, and
    nothing of the answer key (description, weight, penalty, critical flag)."""
    if record is None:
        return None
    shown = dict(record)
    shown["criteria"] = [
        {key: entry[key] for key in VERDICT_KEYS if key in entry}
        for entry in record.get("criteria", [])
    ]
    for key in ("critical", "critical_missed", "critical_violated"):
        shown.pop(key, None)
    return shown


def format_seconds(value: float | None) -> str:
    """Seconds as m:ss.s for a transcript line (an hour-long gap stays readable)."""
    if value is None:
        return ""
    minutes, tenths = divmod(round(max(0.0, value) * 10), 600)
    return f"{minutes}:{tenths / 10:04.1f}"


def redactor(
    owner_name: str, other_names: Iterable[str], mask: str, typed_names: Iterable[str] = ()
) -> Callable[[str], str]:
    """A function that masks the owner's name (whole, its parts, spaced), other users' names
    and the names someone introduced themselves with in the chat (`introduced_names`).

    Login names are ASCII; they are matched case-insensitively where no letter or digit
    touches them, so a name inside Chinese text is found too. Parts shorter than three
    letters (li, wu) are left alone: they are ordinary words too often. Typed names are
    masked in any case too (tags are lower case): a trainee who said "I'm Will" has "will"
    masked as well, the price of not missing the name.
    """
    terms = {owner_name}
    parts = [p for p in re.split(r"[._@\-\s]+", owner_name) if p]
    terms.update(p for p in parts if len(p) >= NAME_PART_MIN)
    if len(parts) > 1:
        terms.update({" ".join(parts), "-".join(parts), "".join(parts)})
    terms.update(name for name in other_names if name)
    terms.update(_typed_terms(typed_names))
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)
    return lambda text: pattern.sub(mask, text)


def _typed_terms(names: Iterable[str]) -> set[str]:
    """A typed name and its parts of three letters or more; a Chinese name and its first two
    characters (surname and given name, the usual length)."""
    terms: set[str] = set()
    for name in names:
        if HAN.fullmatch(name):
            terms.update({name, name[:2]})
            continue
        parts = [p for p in re.split(r"[\s-]+", name) if p]
        terms.update([name, *(p for p in parts if len(p) >= NAME_PART_MIN)])
    return terms


# --- names people introduce themselves with ---------------------------------------------

HAN = re.compile(r"[\u4e00-\u9fff]+")
_CAPITALISED = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
_ANY_WORD = r"[A-Za-z][a-z]*(?:[-'][A-Za-z][a-z]+)?"
#: English self-introductions. After "my name is" / "call me" the name may be typed in lower
#: case; after "I'm" / "I am" / "this is" it must be capitalised ("I'm sorry" is no name).
INTRODUCTIONS = (
    re.compile(
        rf"(?i:\b(?:my name is|my name's|my name’s|name is|call me)\s+)"
        rf"(?P<name>{_ANY_WORD}(?:\s+{_CAPITALISED})?)"
    ),
    re.compile(
        rf"(?i:\b(?:i'm|i’m|i am|this is|it's|it’s)\s+)"
        rf"(?P<name>{_CAPITALISED}(?:\s+{_CAPITALISED})?)"
    ),
    # Chinese: 我叫张伟, 我的名字是/叫张伟, 我名叫张伟, 本人叫张伟, 叫我张伟. The name is the two
    # or three Han characters that follow (a given name runs into the next word when no
    # punctuation ends it: the first two characters are masked too).
    re.compile(
        r"(?:我叫|我的名字是|我的名字叫|我名叫|本人叫|叫我)\s*(?P<name>[\u4e00-\u9fff]{2,3})"
    ),
)
#: Capitalised words that follow "I'm" or "this is" without being names.
NOT_NAMES = frozenset(
    """Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April
    May June July August September October November December English Chinese British American
    Australian Canadian Indian Irish Scottish Welsh French German Spanish Italian Japanese
    Korean Sorry Fine Good Okay Here Not Just Really Very Calling Looking Worried Pregnant
    Diabetic Allergic The This That What Yes No Please Thanks Thank Hello Hi Mum Mom Dad Sir
    Madam Customer Service Pharmacy Pharmacist""".split()
)
#: Titles before a name: left out of the name ("this is Dr Smith" gives Smith).
TITLES = frozenset("Dr Mr Mrs Ms Miss Prof".split())


def introduced_names(texts: Iterable[str]) -> set[str]:
    """The names someone introduced themselves with in `texts` ("my name is Tom Baker",
    "I'm Anna", "this is Sarah from ...", "我叫张伟"), to mask wherever they appear.

    Pattern-based, so it has limits: a name given otherwise ("Anna here", "我是张伟",
    "it's me, Anna"), a name typed in lower case after "I'm", or a name that is also a
    listed ordinary word (May, Hope...) is not found.
    """
    found: set[str] = set()
    for text in texts:
        for pattern in INTRODUCTIONS:
            for match in pattern.finditer(text):
                words = [w for w in match.group("name").split() if w not in TITLES]
                kept: list[str] = []
                for word in words:
                    if word in NOT_NAMES:
                        break
                    kept.append(word)
                if kept:
                    found.add(" ".join(kept))
    return found


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


def unmarked_transcript(library: PackLibrary, session: Session, attempt: Attempt) -> dict[str, Any]:
    """A blind reviewer's view of a conversation (second marking, a third reviewer, a
    calibration session): its lines with no verdict beside any, and the persona's name and
    language, as template context."""
    assert attempt.id is not None
    messages = list_messages(session=session, attempt_id=attempt.id)
    found = library.find(attempt.pack_id, attempt.scenario_id)
    return {
        "rows": timed_rows(messages, None, []),
        "persona_name": found[1].persona.name if found else "",
        "content_lang": found[0].locale if found else "",
        "scenario": found[1] if found else None,
        "seconds": format_seconds,
        "clean": str,
    }
