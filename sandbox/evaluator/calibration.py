"""The calibration report's figures (the supervision group's view), from plain rows.

Each `Decision` is one reviewer's status for one verdict of one attempt, beside the
grader's status and whether the grader had flagged it. From them:

- per criterion and per scenario: how many verdicts reviewers decided, how many they
  changed, and in which direction (in the trainee's favour or against);
- flagged against unflagged verdicts: how often each was changed;
- the grader against the reviewers, and reviewer against reviewer where two decided the
  same verdict: agreement in percent and Cohen's kappa;
- each reviewer's agreement with the settled result (the latest decision on a verdict);
- calibration sessions: a mentor's blind statuses on a set of settled conversations
  against the settled ones (`session_result`), and each mentor's sessions over time.

Pure: no database, no clock; storage reads the rows, the web layer shows the figures.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

#: Statuses that count for the trainee: a change towards one of these is "up".
FAVOURABLE = ("met", "clear", "not_applicable")


@dataclass(frozen=True)
class Decision:
    attempt_id: int
    scenario: str  # PACK/SCENARIO
    criterion: str
    reviewer: str
    automatic: str  # the grader's status
    status: str  # the reviewer's
    flagged: bool
    order: int  # later decisions have higher numbers (the row id)


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None without items, or when
    chance agreement is certain (both raters always gave the one same label)."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(1 for a, b in pairs if a == b) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def agreement(pairs: Sequence[tuple[str, str]]) -> float | None:
    """The share of pairs that agree, in percent (None without pairs)."""
    if not pairs:
        return None
    return 100 * sum(1 for a, b in pairs if a == b) / len(pairs)


@dataclass
class Changes:
    """How often reviewers changed the grader's verdict, and which way."""

    decided: int = 0
    changed: int = 0
    up: int = 0  # towards the trainee (missed -> met, violated -> clear)
    down: int = 0

    def add(self, decision: Decision) -> None:
        self.decided += 1
        if decision.status != decision.automatic:
            self.changed += 1
            if decision.status in FAVOURABLE and decision.automatic not in FAVOURABLE:
                self.up += 1
            else:
                self.down += 1

    @property
    def changed_pct(self) -> float | None:
        return 100 * self.changed / self.decided if self.decided else None


@dataclass
class Report:
    by_criterion: dict[str, Changes] = field(default_factory=dict)
    by_scenario: dict[str, Changes] = field(default_factory=dict)
    flagged: Changes = field(default_factory=Changes)
    unflagged: Changes = field(default_factory=Changes)
    grader_pairs: list[tuple[str, str]] = field(default_factory=list)
    reviewer_pairs: list[tuple[str, str]] = field(default_factory=list)
    reviewers: dict[str, tuple[int, int]] = field(default_factory=dict)  # agree, decided
    # Each mentor's finished calibration sessions, oldest first.
    sessions: dict[str, list[SessionFigure]] = field(default_factory=dict)

    @property
    def grader_agreement(self) -> float | None:
        return agreement(self.grader_pairs)

    @property
    def grader_kappa(self) -> float | None:
        return cohen_kappa(self.grader_pairs)

    @property
    def reviewer_agreement(self) -> float | None:
        return agreement(self.reviewer_pairs)

    @property
    def reviewer_kappa(self) -> float | None:
        return cohen_kappa(self.reviewer_pairs)


@dataclass(frozen=True)
class Answer:
    """One criterion of one conversation of a calibration session: the mentor's status
    (given blind) beside the settled one."""

    item: int  # the conversation's place in the set, from 1
    criterion: str
    given: str
    settled: str


@dataclass
class SessionResult:
    """A calibration session's agreement with the settled grades."""

    pairs: list[tuple[str, str]]
    differ: list[Answer]

    @property
    def agreement(self) -> float | None:
        return agreement(self.pairs)

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.pairs)


def session_result(answers: Sequence[Answer]) -> SessionResult:
    """Agreement and Cohen's kappa of a session's statuses with the settled ones (one pair
    per criterion of each conversation), and the answers that differ, in order."""
    return SessionResult(
        [(a.given, a.settled) for a in answers], [a for a in answers if a.given != a.settled]
    )


@dataclass(frozen=True)
class SessionFigure:
    """A finished calibration session as the report lists it."""

    session_id: int
    mentor: str
    set_name: str
    finished: str  # when, as the caller words it (ISO date and time)
    verdicts: int
    agree: int
    kappa: float | None

    @property
    def percent(self) -> float | None:
        return 100 * self.agree / self.verdicts if self.verdicts else None


def session_figure(
    session_id: int, mentor: str, set_name: str, finished: str, answers: Sequence[Answer]
) -> SessionFigure:
    result = session_result(answers)
    agree = len(result.pairs) - len(result.differ)
    return SessionFigure(
        session_id, mentor, set_name, finished, len(result.pairs), agree, result.kappa
    )


def by_mentor(figures: Iterable[SessionFigure]) -> dict[str, list[SessionFigure]]:
    """Each mentor's sessions, oldest first, mentors by name."""
    grouped: dict[str, list[SessionFigure]] = defaultdict(list)
    for figure in figures:
        grouped[figure.mentor].append(figure)
    return {
        name: sorted(grouped[name], key=lambda f: (f.finished, f.session_id))
        for name in sorted(grouped)
    }


def settled(decisions: Iterable[Decision]) -> dict[tuple[int, str], Decision]:
    """The latest decision on each verdict (attempt, criterion): the settled result."""
    latest: dict[tuple[int, str], Decision] = {}
    for d in sorted(decisions, key=lambda d: d.order):
        latest[(d.attempt_id, d.criterion)] = d
    return latest


def report(decisions: Sequence[Decision], sessions: Iterable[SessionFigure] = ()) -> Report:
    """Every figure of the calibration report from the decisions (and the finished
    calibration sessions)."""
    result = Report(sessions=by_mentor(sessions))
    final = settled(decisions)
    # The grader against the settled result: one pair per verdict.
    for d in final.values():
        result.by_criterion.setdefault(d.criterion, Changes()).add(d)
        result.by_scenario.setdefault(d.scenario, Changes()).add(d)
        (result.flagged if d.flagged else result.unflagged).add(d)
        result.grader_pairs.append((d.automatic, d.status))
    # Reviewer against reviewer: each reviewer's latest word on a verdict, paired with
    # every other reviewer's on the same verdict.
    per_verdict: dict[tuple[int, str], dict[str, Decision]] = defaultdict(dict)
    for d in sorted(decisions, key=lambda d: d.order):
        per_verdict[(d.attempt_id, d.criterion)][d.reviewer] = d
    for words in per_verdict.values():
        for a, b in combinations(sorted(words), 2):
            result.reviewer_pairs.append((words[a].status, words[b].status))
    # Each reviewer against the settled result.
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, words in per_verdict.items():
        for name, d in words.items():
            counts[name][0] += d.status == final[key].status
            counts[name][1] += 1
    result.reviewers = {name: (a, n) for name, (a, n) in sorted(counts.items())}
    return result


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def report_csv(figures: Report) -> str:
    """The report as CSV: one row per figure (section, key, decided, changed, up, down,
    percent, kappa)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "decided", "changed", "up", "down", "percent", "kappa"])
    for section, table in (("criterion", figures.by_criterion), ("scenario", figures.by_scenario)):
        for key, c in sorted(table.items()):
            writer.writerow(
                [section, key, c.decided, c.changed, c.up, c.down, _pct(c.changed_pct), ""]
            )
    for key, c in (("flagged", figures.flagged), ("unflagged", figures.unflagged)):
        writer.writerow(["flags", key, c.decided, c.changed, c.up, c.down, _pct(c.changed_pct), ""])
    for key, pairs, pct, kappa in (
        ("grader-vs-settled", figures.grader_pairs, figures.grader_agreement, figures.grader_kappa),
        (
            "reviewer-vs-reviewer",
            figures.reviewer_pairs,
            figures.reviewer_agreement,
            figures.reviewer_kappa,
        ),
    ):
        writer.writerow(
            [
                "agreement",
                key,
                len(pairs),
                "",
                "",
                "",
                _pct(pct),
                "" if kappa is None else f"{kappa:.3f}",
            ]
        )
    for name, (agree, decided) in figures.reviewers.items():
        share = 100 * agree / decided if decided else None
        writer.writerow(["reviewer", name, decided, decided - agree, "", "", _pct(share), ""])
    for name, figures_of in figures.sessions.items():
        for f in figures_of:
            writer.writerow(
                [
                    "session",
                    f"{name}:{f.session_id}",
                    f.verdicts,
                    f.verdicts - f.agree,
                    "",
                    "",
                    _pct(f.percent),
                    "" if f.kappa is None else f"{f.kappa:.3f}",
                ]
            )
    return out.getvalue()


__all__ = [
    "Answer",
    "Changes",
    "Decision",
    "Report",
    "SessionFigure",
    "SessionResult",
    "agreement",
    "by_mentor",
    "cohen_kappa",
    "report",
    "report_csv",
    "session_figure",
    "session_result",
]
