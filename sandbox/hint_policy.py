"""The hint policy's words (pure: read by config.py for SANDBOX_HINTS and by the evaluator's
hints, evaluator/hints.py, for a scenario's `hints`)."""

from __future__ import annotations


class HintPolicyError(ValueError):
    """A hint policy that is not off, on or a whole number from 1 to 20."""


def read_policy(value: str | int | None) -> str | int:
    """The policy: "off", "on" or a limit per attempt (1..20), from a setting or a pack."""
    if value is None:
        return "on"
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip().lower()
        if text in ("off", "on"):
            return text
        if not text.isdigit():
            raise HintPolicyError(f"hints must be off, on or a number from 1 to 20, not {value!r}")
        number = int(text)
    if not 1 <= number <= 20:
        raise HintPolicyError(f"hints must be off, on or a number from 1 to 20, not {value!r}")
    return number
