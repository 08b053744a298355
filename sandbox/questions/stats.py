"""Item statistics of a written part: facility, point-biserial discrimination, distractor
shares, reliability (KR-20 for right/wrong items, Cronbach's alpha otherwise), poor items.

Definitions (docs/questions-format.md, "Item statistics"):

- facility: the mean share of the item's points earned by those who were given it;
- discrimination: the point-biserial (Pearson) correlation between the item's share and
  the candidate's share of points on the *rest* of their paper (the item left out, so an
  item does not correlate with itself); None when either does not vary;
- distractor shares: for each choice (an option's index, `true`/`false`, or `none` for no
  answer) the share of candidates who chose it;
- reliability: over the items every candidate was given, k/(k-1) · (1 − Σ var(item) /
  var(total)) with population variances; that is KR-20 when every such item is scored
  right or wrong, Cronbach's alpha otherwise; None with fewer than two items or candidates;
- an item is flagged poor when its facility is below 0.2 or above 0.9, or its
  discrimination is below 0.2 (negative: better candidates got it wrong more often).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

LOW_FACILITY = 0.2
HIGH_FACILITY = 0.9
LOW_DISCRIMINATION = 0.2


@dataclass(frozen=True)
class Response:
    """One candidate's answer to one item: points earned of `points`, and what was chosen."""

    score: float
    points: float
    choice: str = "none"


@dataclass(frozen=True)
class ItemStats:
    item: str
    n: int
    facility: float
    discrimination: float | None
    choices: dict[str, float]
    flags: tuple[str, ...]

    @property
    def poor(self) -> bool:
        return bool(self.flags)


@dataclass(frozen=True)
class Report:
    items: list[ItemStats] = field(default_factory=list)
    candidates: int = 0
    reliability: float | None = None
    reliability_kind: str | None = None  # "KR-20" or "alpha"
    reliability_items: int = 0


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _pvar(xs: Sequence[float]) -> float:
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The correlation of two equally long series; None if either is constant or n < 2."""
    if len(xs) < 2:
        return None
    mx, my = _mean(xs), _mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sxy / math.sqrt(sxx * syy)


def flags_for(facility: float, discrimination: float | None) -> tuple[str, ...]:
    out = []
    if facility < LOW_FACILITY:
        out.append("hard")
    if facility > HIGH_FACILITY:
        out.append("easy")
    if discrimination is not None and discrimination < 0:
        out.append("negative")
    elif discrimination is not None and discrimination < LOW_DISCRIMINATION:
        out.append("weak")
    return tuple(out)


def item_statistics(papers: Sequence[Mapping[str, Response]]) -> Report:
    """Statistics of every item over `papers` (one mapping item → response per candidate)."""
    items = sorted({item for paper in papers for item in paper})
    totals = [sum(r.score for r in p.values()) for p in papers]
    maxima = [sum(r.points for r in p.values()) for p in papers]
    result: list[ItemStats] = []
    for item in items:
        shares: list[float] = []
        rest: list[float] = []
        counts: dict[str, int] = {}
        for paper, total, most in zip(papers, totals, maxima, strict=True):
            r = paper.get(item)
            if r is None:
                continue
            shares.append(r.score / r.points if r.points else 0.0)
            left = most - r.points
            rest.append((total - r.score) / left if left > 0 else 0.0)
            counts[r.choice] = counts.get(r.choice, 0) + 1
        n = len(shares)
        facility = _mean(shares)
        discrimination = pearson(shares, rest)
        choices = {k: counts[k] / n for k in sorted(counts)}
        result.append(
            ItemStats(
                item, n, facility, discrimination, choices, flags_for(facility, discrimination)
            )
        )
    common = [i for i in items if all(i in p for p in papers)]
    reliability: float | None = None
    kind: str | None = None
    if len(common) >= 2 and len(papers) >= 2:
        columns = [[p[i].score for p in papers] for i in common]
        sums: list[float] = [sum(col[j] for col in columns) for j in range(len(papers))]
        var_total = _pvar(sums)
        if var_total > 1e-12:
            k = len(common)
            reliability = k / (k - 1) * (1 - sum(_pvar(c) for c in columns) / var_total)
            binary = all(p[i].score in (0.0, p[i].points) for p in papers for i in common)
            kind = "KR-20" if binary else "alpha"
    return Report(result, len(papers), reliability, kind, len(common) if reliability else 0)


def report_csv_rows(report: Report) -> list[list[str]]:
    """The report as CSV rows: a header, one row per item, then the reliability."""
    rows = [["item", "n", "facility", "discrimination", "choices", "flags"]]
    for s in report.items:
        rows.append(
            [
                s.item,
                str(s.n),
                f"{s.facility:.3f}",
                "" if s.discrimination is None else f"{s.discrimination:.3f}",
                " ".join(f"{k}={v:.3f}" for k, v in s.choices.items()),
                " ".join(s.flags),
            ]
        )
    if report.reliability is not None:
        rows.append(
            [
                f"reliability ({report.reliability_kind})",
                str(report.candidates),
                f"{report.reliability:.3f}",
                "",
                "",
                "",
            ]
        )
    return rows
