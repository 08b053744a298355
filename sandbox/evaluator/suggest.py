"""Learning from overrides: the pack changes a reviewer's override suggests (pure).

Each override in force becomes a candidate example (the conversation's trainee lines,
expecting the reviewer's status for that criterion) and, where it can be said plainly, a
phrase for the criterion: a missed requirement the reviewer marked met gains the clause of
the conversation that says it most nearly; a violation the reviewer cleared gains that
clause as a `not` phrase. The changes are made on a copy of the pack's data; nothing is
applied here (`sandbox suggest` shows their effect, as a regrade's dry run does).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Words too common to say what a clause is about.
_STOP = frozenset(
    "a an and are as at be but by can do for from have i if in is it me my of on or so "
    "that the this to we with you your will would should not no".split()
)
_CLAUSE = re.compile(r"[.,;:!?，。；：！？、\n]+")
_WORD = re.compile(r"[a-z0-9']+|[\u4e00-\u9fff]", re.IGNORECASE)
MAX_WORDS = 6
MAX_CHARS_ZH = 12


@dataclass(frozen=True)
class Suggestion:
    scenario: str
    criterion: str
    kind: str
    automatic: str  # the grader's status
    status: str  # the reviewer's
    reason: str
    author: str
    attempt_id: int
    example: dict[str, Any]
    phrase: str | None  # to add to the criterion's match, or None
    where: str | None  # "any" or "not"
    why_no_phrase: str | None = None


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def closest_clause(lines: Sequence[str], description: str) -> str | None:
    """The clause of the trainee's lines that shares most words with the description
    (ties: the earliest), cut to a phrase; None when no clause shares a word."""
    wanted = {w for w in _words(description) if (w not in _STOP and len(w) > 2) or _is_zh(w)}
    best: tuple[int, str] | None = None
    for line in lines:
        for clause in _CLAUSE.split(line):
            clause = clause.strip()
            shared = len({w for w in _words(clause) if w in wanted})
            if shared and (best is None or shared > best[0]):
                best = (shared, clause)
    if best is None:
        return None
    return _phrase(best[1])


def _is_zh(word: str) -> bool:
    return bool(re.fullmatch(r"[\u4e00-\u9fff]", word))


def _phrase(clause: str) -> str:
    if re.search(r"[\u4e00-\u9fff]", clause):
        return clause[:MAX_CHARS_ZH]
    words = re.findall(r"[A-Za-z0-9']+", clause.lower())
    return " ".join(words[:MAX_WORDS])


def example_for(
    name: str,
    lines: Sequence[tuple[str, float]],
    criterion: str,
    status: str,
    violated: Sequence[str] = (),
) -> dict[str, Any]:
    """An example of the pack's format: the conversation's trainee lines (with their
    times), expecting the reviewer's status for the criterion. A rule cleared is said by
    the exact list of the rules still broken (`violated`, from the settled grade)."""
    expect: dict[str, Any] = {}
    if status in ("met", "missed"):
        expect[status] = [criterion]
    elif status == "violated":
        expect["violated"] = sorted({*violated, criterion})
    elif status == "clear":
        expect["violated"] = sorted(v for v in violated if v != criterion)
    else:
        expect["not_applicable"] = [criterion]
    return {
        "name": name,
        "trainee": [{"text": text, "at": round(at, 1)} for text, at in lines],
        "expect": expect,
    }


def with_phrase(
    data: dict[str, Any], scenario_id: str, criterion_id: str, phrase: str, where: str
) -> dict[str, Any] | None:
    """A copy of the pack's data with the phrase added to the criterion's match (`any`
    or `not`); None when the match has word groups (`all`) an added phrase would not fit."""
    changed = copy.deepcopy(data)
    for scenario in changed.get("scenarios", []):
        if scenario.get("id") != scenario_id:
            continue
        for criterion in scenario.get("rubric", {}).get("criteria", []):
            if criterion.get("id") != criterion_id:
                continue
            match = criterion.get("match")
            if isinstance(match, list):
                match = {"any": list(match)}
            if not isinstance(match, dict):
                return None
            if where == "any":
                if match.get("all") and not match.get("any"):
                    return None
                match.setdefault("any", []).append(phrase)
            else:
                match.setdefault("not", []).append(phrase)
            criterion["match"] = match if set(match) != {"any"} else match["any"]
            return changed
    return None


def with_example(data: dict[str, Any], scenario_id: str, example: dict[str, Any]) -> dict[str, Any]:
    """A copy of the pack's data with the example added to the scenario."""
    changed = copy.deepcopy(data)
    for scenario in changed.get("scenarios", []):
        if scenario.get("id") == scenario_id:
            scenario.setdefault("examples", []).append(example)
    return changed


def where_for(automatic: str, status: str) -> str | None:
    """Where a phrase goes for this change: a missed requirement met goes to `any`, a
    violation cleared to `not`; other changes suggest an example only."""
    if automatic == "missed" and status == "met":
        return "any"
    if automatic == "violated" and status == "clear":
        return "not"
    return None


__all__ = [
    "Suggestion",
    "closest_clause",
    "example_for",
    "where_for",
    "with_example",
    "with_phrase",
]
