"""Learning from overrides: the pack changes a reviewer's override suggests (pure).

Each override in force becomes a candidate example (the conversation's trainee lines,
expecting the reviewer's status for that criterion) and, where it can be said plainly, a
phrase for the criterion: a missed requirement the reviewer marked met gains the clause of
the conversation that says it most nearly; a violation the reviewer cleared gains that
clause as a `not` phrase. The changes are made on a copy of the pack's data; nothing is
applied here: `effect` says what a change does, as a regrade's dry run does (`sandbox
suggest`, and the admin's suggestions page, which may then write the pack file).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from sandbox.evaluator.examples import run_pack
from sandbox.evaluator.regrade import Job, grade_job
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.loader import load_pack_text
from sandbox.scenarios.models import Pack
from sandbox.text.concepts import Lexicon

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


#: What of a suggestion to apply.
PARTS = ("example", "phrase", "both")


def changed_data(
    data: dict[str, Any], suggestion: Suggestion, part: str
) -> tuple[dict[str, Any], bool]:
    """A copy of the pack's data with the suggestion's example, phrase or both; and whether
    the phrase had to be left out (a match of word groups takes it only by hand)."""
    changed = data
    if part in ("example", "both"):
        changed = with_example(changed, suggestion.scenario, suggestion.example)
    by_hand = False
    if part in ("phrase", "both") and suggestion.phrase and suggestion.where:
        phrased = with_phrase(
            changed, suggestion.scenario, suggestion.criterion, suggestion.phrase, suggestion.where
        )
        if phrased is None:
            by_hand = True
        else:
            changed = phrased
    return (copy.deepcopy(changed) if changed is data else changed), by_hand


def failing(pack: Pack) -> set[str]:
    """The names of the pack's examples that do not hold."""
    return {result.name for result in run_pack(pack) if not result.passed}


@dataclass(frozen=True)
class Effect:
    """What a change does, as a regrade's dry run says it: the changed data, the examples
    it breaks (a new example the rubric cannot pass yet counts), or why the changed pack
    does not load; the stored attempts whose verdict on the criterion would move."""

    data: dict[str, Any]
    pack: Pack | None
    broken: list[str]
    problem: str | None
    by_hand: bool
    moved: list[int]
    total: int

    @property
    def safe(self) -> bool:
        """Nothing breaks: the change may be applied."""
        return self.pack is not None and not self.broken and not self.problem


def _status(record: dict[str, Any] | None, criterion: str) -> str | None:
    for entry in (record or {}).get("criteria", []):
        if entry.get("id") == criterion:
            return str(entry.get("status"))
    return None


def effect(
    loaded: Pack,
    data: dict[str, Any],
    suggestion: Suggestion,
    part: str,
    *,
    lexicon: Lexicon | None,
    baseline: set[str],
    jobs: Sequence[Job] = (),
) -> Effect:
    """The effect of applying `part` of the suggestion to the pack (`data` is its file's
    data, `baseline` the names of its examples that fail already)."""
    changed, by_hand = changed_data(data, suggestion, part)
    text = yaml.safe_dump(changed, allow_unicode=True, sort_keys=False)
    try:
        candidate = load_pack_text(text, loaded.source or "<pack>", lexicon)
    except PackErrors as errors:
        return Effect(changed, None, [], str(errors.errors[0]), by_hand, [], len(jobs))
    broken = sorted(failing(candidate) - baseline)
    moved = [
        job.attempt_id
        for job in jobs
        if _status(grade_job({loaded.id: loaded}, job).record, suggestion.criterion)
        != _status(grade_job({loaded.id: candidate}, job).record, suggestion.criterion)
    ]
    return Effect(changed, candidate, broken, None, by_hand, moved, len(jobs))


__all__ = [
    "PARTS",
    "Effect",
    "Suggestion",
    "changed_data",
    "closest_clause",
    "effect",
    "example_for",
    "failing",
    "where_for",
    "with_example",
    "with_phrase",
]
