"""Service metrics of one conversation, as the policies track them after training, and
the communication band.

- FRT, first response time: seconds from the customer's opening line to the trainee's
  first message.
- AHT, handling time: seconds from the opening line to the conversation's last message
  (the history and reports show its average over attempts).
- Communication: the weighted share of the rubric's etiquette criteria met, graded in the
  policies' four bands (>= 90 excellent, 70-89 good, 60-69 pass, < 60 fail). Criteria
  marked not applicable count for nothing; a rubric without etiquette criteria has none.

Pure: lines in, numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The policies' bands, highest first; below the last one is "fail".
BANDS: tuple[tuple[float, str], ...] = ((90.0, "excellent"), (70.0, "good"), (60.0, "pass"))


@dataclass(frozen=True)
class ServiceMetrics:
    frt_s: float | None
    aht_s: float | None


def service_metrics(lines: Sequence[tuple[str, float]]) -> ServiceMetrics:
    """FRT and handling time from (speaker, seconds since the start) lines in order; the
    first line is the customer's opening. None where the conversation gives no answer."""
    if not lines:
        return ServiceMetrics(None, None)
    opening_at = lines[0][1]
    first = next((at for role, at in lines[1:] if role == "trainee"), None)
    frt = None if first is None else max(0.0, first - opening_at)
    aht = max(0.0, lines[-1][1] - opening_at) if first is not None else None
    return ServiceMetrics(frt, aht)


def band_of(score: float) -> str:
    for floor, name in BANDS:
        if score >= floor:
            return name
    return "fail"


@dataclass(frozen=True)
class Communication:
    score: float
    band: str


def communication(grade: Mapping[str, Any] | None) -> Communication | None:
    """The communication band of a grade record (its etiquette criteria), or None."""
    if not grade:
        return None
    total = met = 0.0
    for entry in grade.get("criteria", []):
        if entry.get("kind") != "etiquette" or entry.get("status") == "not_applicable":
            continue
        weight = float(entry.get("weight", 1) or 0)
        total += weight
        if entry.get("status") == "met":
            met += weight
    if total <= 0:
        return None
    score = round(100.0 * met / total, 1)
    return Communication(score, band_of(score))


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the known values, or None."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def clock_text(seconds: float | None) -> str:
    """m:ss, or an en dash when unknown."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
