"""Exam and cohort reports: pass rate against the target, score histogram, facility, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PassRate:
    passed: int
    total: int
    target: float  # percent

    @property
    def percent(self) -> float | None:
        return None if self.total == 0 else round(100 * self.passed / self.total, 1)

    @property
    def meets_target(self) -> bool | None:
        percent = self.percent
        return None if percent is None else percent >= self.target


def pass_rate(outcomes: Iterable[bool | None], target: float = 90) -> PassRate:
    """Share of decided candidates who passed (pending ones are not counted)."""
    decided = [o for o in outcomes if o is not None]
    return PassRate(sum(decided), len(decided), target)


def histogram(scores: Iterable[float], width: int = 10) -> list[tuple[str, int]]:
    """Counts per band of `width` points: 0-9, 10-19, ..., 90-100 (100 joins the last)."""
    edges = list(range(0, 100, width))
    counts = [0] * len(edges)
    for score in scores:
        index = min(int(score // width), len(edges) - 1)
        counts[max(index, 0)] += 1
    labels = [
        f"{lo}–{min(lo + width, 100) if lo + width >= 100 else lo + width - 1}" for lo in edges
    ]
    return list(zip(labels, counts, strict=True))


@dataclass(frozen=True)
class Bar:
    """One band of a histogram as drawn: its box, its count and label and where they go."""

    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    middle: float  # the x of its count and label


@dataclass(frozen=True)
class HistogramLayout:
    """Where a histogram's parts go in a `width` × `height` box (the picture is a template's:
    `web/templates/_charts.html`)."""

    width: int
    height: int
    left: int  # the plot's left edge
    top: int
    bottom: int  # the plot's base line
    right: int
    label_y: int  # the baseline of the axis labels
    bars: tuple[Bar, ...]
    pass_x: float | None  # the pass line, if any
    #: The score axis, labelled at the bands' edges (0, 10, ... 100): short numbers that stay
    #: readable when the chart is drawn small, where "90–100" under every bar did not.
    ticks: tuple[tuple[float, str], ...] = ()


def histogram_layout(
    bins: Sequence[tuple[str, int]],
    pass_line: float | None = None,
    width: int = 560,
    height: int = 240,
) -> HistogramLayout:
    """Bars scaled to the tallest band (at least 1), the pass line placed on the 0-100 axis."""
    pad_l, pad_b, pad_t = 36, 36, 24
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    top = max([c for _, c in bins] + [1])
    bar_w = plot_w / max(len(bins), 1)
    bars = []
    for i, (label, count) in enumerate(bins):
        h = plot_h * count / top
        x = pad_l + i * bar_w
        bars.append(Bar(label, count, x + 2, pad_t + plot_h - h, bar_w - 4, h, x + bar_w / 2))
    pass_x = None if pass_line is None else pad_l + plot_w * pass_line / 100
    ticks = tuple((pad_l + i * bar_w, str(min(i * 10, 100))) for i in range(len(bins) + 1))
    return HistogramLayout(
        width,
        height,
        pad_l,
        pad_t,
        pad_t + plot_h,
        width - 8,
        height - pad_b + 20,
        tuple(bars),
        pass_x,
        ticks if len(bins) == 10 else (),
    )


@dataclass(frozen=True)
class Facility:
    criterion: str
    description: str | None
    met: int  # a forbidden criterion: how many kept clear of it
    applicable: int
    kind: str | None = None  # the criterion's kind: "forbidden" reads "kept clear"

    @property
    def percent(self) -> float | None:
        return None if self.applicable == 0 else round(100 * self.met / self.applicable, 1)

    @property
    def kept_clear(self) -> bool:
        """A forbidden criterion: its share is of candidates who kept clear of it."""
        return self.kind == "forbidden"


def facility(records: Iterable[Mapping[str, Any]]) -> list[Facility]:
    """Per criterion, the share of candidates who met it (forbidden: who stayed clear).

    Records are stored grades (`Grade.to_record()`); criteria appear in first-seen order,
    the hardest first once sorted by the caller.
    """
    met: dict[str, int] = {}
    applicable: dict[str, int] = {}
    described: dict[str, str | None] = {}
    kinds: dict[str, str | None] = {}
    for record in records:
        scenario = record.get("scenario", "")
        for c in record["criteria"]:
            key = f"{scenario}#{c['id']}"
            described.setdefault(key, c.get("description"))
            kinds.setdefault(key, c.get("kind"))
            if c["status"] == "not_applicable":
                applicable.setdefault(key, 0)
                met.setdefault(key, 0)
                continue
            applicable[key] = applicable.get(key, 0) + 1
            met[key] = met.get(key, 0) + (c["status"] in ("met", "clear"))
    return [Facility(k, described[k], met[k], applicable[k], kinds[k]) for k in applicable]


def grades_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV text of `rows`; cells that a spreadsheet would run as formulas are defused."""
    return csv_header(columns) + csv_rows(rows, columns)


def csv_header(columns: Sequence[str]) -> str:
    """The header line of a grades CSV (`grades_csv` in parts, to stream it)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(columns)
    return out.getvalue()


def csv_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The lines of `rows`, without the header, cells defused as in `grades_csv`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
