"""A server-side SVG chart of scores over time, readable without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 400
HEIGHT = 200
PAD_LEFT = 36
PAD_RIGHT = 16
PAD_TOP = 16
PAD_BOTTOM = 28


@dataclass(frozen=True)
class ChartPoint:
    label: str
    score: float
    passed: bool


def progress_svg(
    points: list[ChartPoint], *, title: str, description: str, pass_mark: float = 70
) -> Markup:
    """A line of scores (0-100) in attempt order, with the pass mark drawn across."""
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(index: int) -> float:
        return PAD_LEFT + (inner_w * index / (len(points) - 1) if len(points) > 1 else inner_w / 2)

    def y(score: float) -> float:
        return PAD_TOP + inner_h * (1 - max(0.0, min(100.0, score)) / 100)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
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
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.score):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline class="score-line" points="{path}"/>')
    for i, point in enumerate(points):
        css = "point passed" if point.passed else "point failed"
        parts.append(
            f'<circle class="{css}" cx="{x(i):.1f}" cy="{y(point.score):.1f}" r="5">'
            f"<title>{escape(point.label)}: {point.score:.1f}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
