"""The charts' SVG, drawn by the macros of `web/templates/_charts.html`."""

from __future__ import annotations

import re

from sandbox.exams.reports import histogram, histogram_layout
from sandbox.web.templating import environment


def draw(*args: object) -> str:
    return str(environment.get_template("_charts.html").module.histogram(*args))


def test_the_histogram_labels_its_axis_readably() -> None:
    chart = histogram_layout(histogram([55, 75, 75, 100]), pass_line=70)
    svg = draw(chart, "Scores <script>", "final")
    # The bands are read out whole, and each has its tooltip.
    assert (
        '<desc id="final-desc">0–9: 0, 10–19: 0, 20–29: 0, 30–39: 0, 40–49: 0, 50–59: 1,'
        " 60–69: 0, 70–79: 2, 80–89: 0, 90–100: 1</desc>"
    ) in svg
    assert "<title>70–79: 2</title>" in svg
    # Under the bars, the axis is labelled at the bands' edges 0 ... 100 (short numbers at
    # 16 units, where "90–100" under every bar at 10 units was unreadable drawn small).
    labels = re.findall(
        r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="middle" font-size="(\d+)"', svg
    )
    axis = [(float(x), int(size)) for x, y, size in labels if float(y) == chart.label_y]
    assert len(axis) == 11 and all(size >= 16 for _, size in axis)
    assert axis[0][0] == chart.left and axis[-1][0] == chart.right
    assert re.findall(r">(\d+)</text>", svg)[-11:] == [str(n) for n in range(0, 101, 10)]
    assert 'font-size="10"' not in svg
    # Counts sit above their bars, inside the picture.
    counts = [float(y) for x, y, size in labels if float(y) != chart.label_y]
    assert counts and min(counts) > 12
    empty = draw(histogram_layout(histogram([])), "Final grades", "p")
    assert '<desc id="p-desc">0–9: 0,' in empty and 'class="pass-line"' not in empty


def test_the_histogram_escapes_its_title_and_names_its_ids_by_prefix() -> None:
    svg = draw(histogram_layout(histogram([55, 75]), pass_line=70), "Scores <script>", "h")
    assert svg.startswith("<svg") and "&lt;script&gt;" in svg and "<script>" not in svg
    assert 'aria-labelledby="h-title h-desc"' in svg and 'class="pass-line"' in svg
    other = draw(histogram_layout(histogram([55])), "Scores", "practical")
    assert 'id="practical-title"' in other and 'id="h-title"' not in other
    assert 'class="pass-line"' not in other
