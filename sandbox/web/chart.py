"""A server-side SVG chart of scores over time, readable without JavaScript.

One chart per scenario on the history page: each graded attempt is a point (its link opens
the attempt's feedback; its tooltip, and the readout under the chart, say when it was and
what it scored), the scenario's pass mark is a dashed line, and the first and last dates are
written under the axis. The legend is HTML beside the chart (`history.html`).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 400
HEIGHT = 200
PAD_LEFT = 36
PAD_RIGHT = 16
PAD_TOP = 16
PAD_BOTTOM = 34


@dataclass(frozen=True)
class ChartPoint:
    label: str  # what the pointer shows: the date and time, the score and the outcome
    score: float
    passed: bool
    date: str = ""  # written under the axis for the first and last points
    href: str | None = None  # the attempt's feedback


def progress_svg(
    points: list[ChartPoint],
    *,
    title: str,
    description: str,
    pass_mark: float = 70,
    prefix: str = "chart",
) -> Markup:
    """A line of scores (0-100) in attempt order, with the pass mark drawn across. Ids start
    with `prefix`, so that several charts can share a page."""
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(index: int) -> float:
        return PAD_LEFT + (inner_w * index / (len(points) - 1) if len(points) > 1 else inner_w / 2)

    def y(score: float) -> float:
        return PAD_TOP + inner_h * (1 - max(0.0, min(100.0, score)) / 100)

    tag = escape(prefix)
    # With links to the attempts the chart is a group a screen reader can enter (a picture,
    # role img, may not hold focusable parts).
    role = "group" if any(p.href for p in points) else "img"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="{role}" '
        f'aria-labelledby="{tag}-title {tag}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{tag}-title">{escape(title)}</title>',
        f'<desc id="{tag}-desc">{escape(description)}</desc>',
    ]
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="axis" x="{PAD_LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick}</text>'
        )
    parts.append(
        f'<line class="pass-mark" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
        f'y1="{y(pass_mark):.1f}" y2="{y(pass_mark):.1f}"/>'
    )
    dated = [0, len(points) - 1] if len(points) > 1 else [0]
    for index in dated:
        if points and points[index].date:
            anchor = "middle" if len(points) == 1 else ("start" if index == 0 else "end")
            edge = x(index) if len(points) == 1 else (PAD_LEFT if index == 0 else WIDTH - PAD_RIGHT)
            parts.append(
                f'<text class="axis date" x="{edge:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="{anchor}">{escape(points[index].date)}</text>'
            )
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.score):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline class="score-line" points="{path}"/>')
    for i, point in enumerate(points):
        css = "point passed" if point.passed else "point failed"
        label = escape(point.label)
        circle = (
            f'<circle class="{css}" cx="{x(i):.1f}" cy="{y(point.score):.1f}" r="6">'
            f"<title>{label}</title></circle>"
        )
        if point.href:
            circle = (
                f'<a href="{escape(point.href)}" class="point-link" aria-label="{label}" '
                f'data-readout="{label}">{circle}</a>'
            )
        parts.append(circle)
    parts.append("</svg>")
    return Markup("".join(parts))
