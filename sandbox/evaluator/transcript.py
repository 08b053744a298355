"""Transcripts (section 6): reading one from JSON with clear messages when it is malformed."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

# A transcript file is at most 5 MiB (`sandbox grade`, `replay`, `explain` refuse a larger
# one before reading it); an hour of chat is far less.
MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024
# The longest integer literal read as a number; a longer one is no number of seconds (and
# Python refuses to convert more than 4,300 digits).
_MAX_INT_DIGITS = 30


class TranscriptError(ValueError):
    """A malformed transcript; `line` is the JSON line where known."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class TranscriptMessage:
    role: Literal["persona", "trainee"]
    text: str
    at: float


@dataclass
class Transcript:
    pack: str
    scenario: str
    messages: list[TranscriptMessage] = field(default_factory=list)

    def trainee_lines(self) -> list[tuple[int, str, float]]:
        """(index, text, at) of every trainee message."""
        return [(i, m.text, m.at) for i, m in enumerate(self.messages) if m.role == "trainee"]

    @classmethod
    def from_conversation(cls, data: dict[str, Any]) -> Transcript:
        return parse_transcript_data(data, "<transcript>")


class _LongInteger:
    """An integer literal of the JSON text too long to be read as a number."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a whole number of {self.digits:,} digits"


def _integer(literal: str) -> int | _LongInteger:
    digits = len(literal.lstrip("-"))
    return int(literal) if digits <= _MAX_INT_DIGITS else _LongInteger(digits)


def _shown(value: Any) -> str:
    """A value for a message: its repr, cut short (and a huge integer by its digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_MAX_INT_DIGITS:
        return "a whole number of more than 30 digits"
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_transcript(text: str, source: str = "<transcript>") -> Transcript:
    """Parse transcript JSON text; raise `TranscriptError` saying what and where."""
    try:
        data = json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise TranscriptError(
            source, f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno
        ) from None
    except RecursionError:
        raise TranscriptError(
            source, "not a transcript: arrays or objects nested too deeply in each other"
        ) from None
    return parse_transcript_data(data, source)


def parse_transcript_data(data: Any, source: str) -> Transcript:
    if not isinstance(data, dict):
        raise TranscriptError(source, "a transcript is a JSON object with pack, scenario, messages")
    for key in ("pack", "scenario"):
        if key in data and not isinstance(data[key], str):
            raise TranscriptError(source, f"{key!r} must be a string")
        if key in data and _lone_surrogate(data[key]):
            raise TranscriptError(source, f"{key}: not valid Unicode text (a lone surrogate)")
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise TranscriptError(source, "'messages' must be a list of messages")
    parsed: list[TranscriptMessage] = []
    last_trainee_at = 0.0
    for i, item in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise TranscriptError(source, f"{where}: a message is an object with role, text, at")
        # The evaluator trusts only the trainee's lines and their times (section 6): a
        # persona line's time may be left out (it is then taken as the last trainee time).
        needed = ("role", "text") if item.get("role") == "persona" else ("role", "text", "at")
        missing = [k for k in needed if k not in item]
        if missing:
            raise TranscriptError(
                source,
                f"{where}: missing {', '.join(map(repr, missing))} "
                "(a message has role, text and at, the seconds "
                "since the conversation started)",
            )
        role, text, at = item.get("role"), item.get("text"), item.get("at", last_trainee_at)
        if role not in ("persona", "trainee"):
            raise TranscriptError(
                source, f"{where}.role: must be 'persona' or 'trainee', got {_shown(role)}"
            )
        if not isinstance(text, str):
            raise TranscriptError(source, f"{where}.text: must be a string, got {_shown(text)}")
        if _lone_surrogate(text):
            raise TranscriptError(
                source, f"{where}.text: not valid Unicode text (a lone surrogate)"
            )
        if isinstance(at, bool) or not isinstance(at, int | float) or not _finite(at):
            raise TranscriptError(
                source, f"{where}.at: must be a number of seconds, got {_shown(at)}"
            )
        if at < 0:
            raise TranscriptError(source, f"{where}.at: must not be negative, got {at!r}")
        if role == "trainee":
            if at < last_trainee_at:
                raise TranscriptError(
                    source,
                    f"{where}.at: trainee messages must not go back in "
                    f"time ({at:g} after {last_trainee_at:g})",
                )
            last_trainee_at = at
        parsed.append(TranscriptMessage(role, text, float(at)))
    return Transcript(str(data.get("pack", "")), str(data.get("scenario", "")), parsed)


def _finite(at: int | float) -> bool:
    """A finite number that a float holds (an integer past 1e308 does not)."""
    try:
        return math.isfinite(float(at))
    except OverflowError:
        return False
