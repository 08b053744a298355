"""A live conversation: the engine's state rebuilt from stored messages, turns stored first.

The full path of the conversation service (service.py). Every function here is synchronous
and short; the service runs them in a worker thread under the attempt's lock. The database
is the source of truth: the engine state is rebuilt from the stored trainee messages with
`Conversation.replay`, so a reload, a dropped socket or a server restart resumes the same
conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from sandbox.engine.conversation import Conversation
from sandbox.evaluator.grading import grade_compiled
from sandbox.evaluator.hints import coaching
from sandbox.evaluator.transcript import parse_transcript_data
from sandbox.scenarios.models import Pack, Scenario
from sandbox.storage.attempts import append_messages, list_messages
from sandbox.storage.models import Attempt, AttemptMessage, Speaker

log = logging.getLogger(__name__)


class ShownMessage(Protocol):
    """A stored line as the chat shows it: an `AttemptMessage`, or a fast turn's line."""

    @property
    def seq(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def kind(self) -> str | None: ...


class Library(Protocol):
    """Where the service finds an attempt's pack and scenario (the loaded pack library)."""

    def find(self, pack_id: str, scenario_id: str) -> tuple[Pack, Scenario] | None: ...


class ConversationUnavailable(Exception):
    """The attempt's pack or scenario is no longer loaded (or changed version)."""


@dataclass
class Live:
    """An attempt with its scenario and the engine state matching its stored messages."""

    attempt: Attempt
    pack: Pack
    scenario: Scenario
    conversation: Conversation
    stored: list[AttemptMessage]


@dataclass
class Outcome:
    """What one event changed: messages newly stored, a notice for the sender, the end."""

    new_messages: list[ShownMessage] = field(default_factory=list)
    notice: str | None = None
    notice_fields: dict[str, Any] = field(default_factory=dict)
    ended_now: bool = False
    duplicate: bool = False
    # The engine state after the event, as stored (the service keeps it for the next turn).
    live: Live | None = None
    # The attempt as the full path left it (to show its end); None on the fast path.
    attempt: Attempt | None = None

    @property
    def persona_replied(self) -> bool:
        return any(message.role == Speaker.PERSONA for message in self.new_messages)


#: The timer wakes this long after the time limit (the engine refuses what comes after it).
AFTER_LIMIT_S = 0.05


def seconds_since(started_at: datetime, now: datetime) -> float:
    """The transcript's `at` of a moment: seconds since the start, rounded to milliseconds."""
    return round(max(0.0, (now - started_at).total_seconds()), 3)


def elapsed_s(attempt: Attempt, now: datetime) -> float:
    """Seconds since the attempt started (the transcript's `at`), rounded to milliseconds."""
    return seconds_since(attempt.started_at, now)


def deadline_at(conversation: Conversation, time_limit_s: float) -> float:
    """The attempt time (seconds) of the next nudge or of the time limit, whichever is first."""
    due = conversation.nudge_due_at()
    limit = time_limit_s + AFTER_LIMIT_S
    return min(due, limit) if due is not None else limit


def load(session: Session, library: Library, attempt: Attempt) -> Live:
    """Rebuild the engine state of `attempt` from its stored messages."""
    found = library.find(attempt.pack_id, attempt.scenario_id)
    if found is None or found[0].version != attempt.pack_version:
        raise ConversationUnavailable(f"{attempt.pack_id}/{attempt.scenario_id}")
    pack, scenario = found
    assert attempt.id is not None
    stored = list_messages(session=session, attempt_id=attempt.id)
    trainee_lines = [(m.text, m.at) for m in stored if m.role == Speaker.TRAINEE]
    conversation = Conversation.replay(
        pack.compiled[scenario.id], pack.locale, trainee_lines, attempt.time_limit_s
    )
    if len(conversation.messages) < len(stored):
        # A nudge the live engine sent after the trainee's last line: replay only knows
        # nudges that stand before a trainee message, so say it again (it keeps its time).
        due = conversation.nudge_due_at()
        if due is not None:
            conversation.send_nudge(max(due + 0.001, stored[-1].at))
    if len(conversation.messages) != len(stored):
        log.warning(
            "attempt %s: %d stored messages but replay gives %d",
            attempt.id,
            len(stored),
            len(conversation.messages),
        )
    return Live(attempt, pack, scenario, conversation, stored)


def store_new(session: Session, live: Live, client_id: str | None = None) -> list[ShownMessage]:
    """Store the engine's messages that are not stored yet; the client id goes on the
    trainee's line."""
    assert live.attempt.id is not None
    fresh = live.conversation.messages[len(live.stored) :]
    lines = [(Speaker(m.role), m.text, float(m.at), m.kind) for m in fresh]
    stored = append_messages(
        session=session,
        attempt_id=live.attempt.id,
        first_seq=len(live.stored),
        lines=lines,
        client_id=client_id,
    )
    live.stored.extend(stored)
    return list(stored)


def revealed_facts(
    pack: Pack, scenario: Scenario, attempt: Attempt, messages: list[AttemptMessage]
) -> set[str]:
    """Ids of the facts the persona revealed in a stored conversation."""
    lines = [(m.text, m.at) for m in messages if m.role == Speaker.TRAINEE]
    compiled = pack.compiled[scenario.id]
    return set(Conversation.replay(compiled, pack.locale, lines, attempt.time_limit_s).revealed)


def transcript_json(attempt: Attempt, messages: list[AttemptMessage]) -> dict[str, Any]:
    """The stored conversation as a transcript (scenario-format section 6)."""
    return {
        "pack": attempt.pack_id,
        "scenario": attempt.scenario_id,
        "messages": [{"role": str(m.role), "text": m.text, "at": m.at} for m in messages],
    }


def grade_live(live: Live) -> dict[str, Any]:
    """The grade record of the conversation as stored so far (`Grade.to_record()`)."""
    transcript = parse_transcript_data(transcript_json(live.attempt, live.stored), "<attempt>")
    compiled = live.pack.compiled[live.scenario.id]
    graded = grade_compiled(live.pack.id, compiled, transcript, live.attempt.time_limit_s)
    # The record, not only the contract's grade: `critical`, descriptions and the pass mark
    # travel with it, so an override or a regrade never needs the pack version back.
    result: dict[str, Any] = graded.to_record()
    return result


def next_deadline(live: Live) -> float:
    """The attempt time (seconds) of the next nudge or of the time limit, whichever is first."""
    return deadline_at(live.conversation, live.attempt.time_limit_s)


def open_coaching(session: Session, library: Library, attempt: Attempt) -> list[str]:
    """Practice hints: a coaching line for each required criterion not met yet (its own
    `hint`, else a message key for its kind), never its description (evaluator/hints.py)."""
    live = load(session, library, attempt)
    grade_json = grade_live(live)
    missed = {c["id"] for c in grade_json["criteria"] if c["status"] == "missed"}
    return coaching(c for c in live.scenario.rubric.criteria if c.id in missed)
