"""What differs between a practice conversation and an exam one, as policy objects.

The conversation service runs every conversation the same way (service.py) and asks the
attempt's policy only where the modes differ: when a message is too late, whether the
message just taken was the last, how a hand-in ends, whether the server ends the
conversation at its deadline, whether hints are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sandbox.engine.conversation import Conversation
from sandbox.exams.policy import Deadline
from sandbox.storage.models import Attempt, Mode

ENDED = "chat.notice.ended"
TIME_UP = "chat.notice.exam_time_up"
LAST_MESSAGE = "chat.notice.exam_last_message"


def deadline_of(attempt: Attempt) -> Deadline:
    """The exam limit and grace of an attempt (its `time_limit_s` includes the grace)."""
    return Deadline(attempt.time_limit_s - attempt.grace_s, attempt.grace_s)


class ConversationPolicy(Protocol):
    """The rules of one mode of conversation."""

    @property
    def gives_hints(self) -> bool:
        """Hints (open criteria) may be asked for."""

    @property
    def ends_on_server(self) -> bool:
        """The server ends the conversation at its deadline, browser or not (exam timers)."""

    def ended_notice(self, attempt: Attempt) -> str:
        """The notice for a message sent to an attempt that has ended."""

    def refuses(self, attempt: Attempt, trainee_ats: list[float], at: float) -> bool:
        """Whether a message at `at` is too late and ends the conversation unheard
        (`trainee_ats`: when the trainee's stored messages were sent)."""

    def last_message(self, attempt: Attempt, at: float) -> bool:
        """Whether the conversation is over once a message at `at` has been taken."""

    def hand_in(self, conversation: Conversation, attempt: Attempt, at: float) -> str:
        """End the conversation the trainee hands in at `at`; return the end reason."""

    def ended_on_tick(self, attempt: Attempt) -> bool:
        """Whether a chat timer that finds `attempt` already ended should show the end."""


@dataclass(frozen=True)
class PracticePolicy:
    """Practice: the engine's own time limit is the only deadline; hints are given."""

    gives_hints: bool = True
    ends_on_server: bool = False

    def ended_notice(self, attempt: Attempt) -> str:
        return ENDED

    def refuses(self, attempt: Attempt, trainee_ats: list[float], at: float) -> bool:
        return False  # the engine refuses what comes after its time limit

    def last_message(self, attempt: Attempt, at: float) -> bool:
        return False

    def hand_in(self, conversation: Conversation, attempt: Attempt, at: float) -> str:
        if at > attempt.time_limit_s:
            conversation.expire(at)
        else:
            conversation.finish(at)
        return str(conversation.end_reason or "finished")

    def ended_on_tick(self, attempt: Attempt) -> bool:
        return False


@dataclass(frozen=True)
class ExamPolicy:
    """An exam: the server's deadline, one last message in a grace period, no hints."""

    gives_hints: bool = False
    ends_on_server: bool = True

    def ended_notice(self, attempt: Attempt) -> str:
        return TIME_UP if attempt.end_reason == "timeout" else ENDED

    def refuses(self, attempt: Attempt, trainee_ats: list[float], at: float) -> bool:
        deadline = deadline_of(attempt)
        grace_used = any(sent > deadline.limit_s for sent in trainee_ats)
        return not deadline.accepts(at, grace_used)

    def last_message(self, attempt: Attempt, at: float) -> bool:
        # The one message of the grace period was taken: that was the last.
        return deadline_of(attempt).ends_after(at)

    def hand_in(self, conversation: Conversation, attempt: Attempt, at: float) -> str:
        conversation.finish(at)
        return "timeout" if at > deadline_of(attempt).limit_s else "finished"

    def ended_on_tick(self, attempt: Attempt) -> bool:
        # The server ended it with no browser looking: the page that wakes shows the end.
        return True


def default_policies() -> dict[Mode, ConversationPolicy]:
    """Each mode's rules as the product runs them."""
    return {Mode.PRACTICE: PracticePolicy(), Mode.EXAM: ExamPolicy()}
