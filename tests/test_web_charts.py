"""The charts' SVG, drawn by the macros of `web/templates/_charts.html`."""

from __future__ import annotations

from sandbox.exams.reports import histogram, histogram_layout
from sandbox.web.templating import environment

# What the report drew before its SVG moved from Python strings to the template: the same
# bytes (the pass line at 70; an empty histogram without one).
FOUR_SCORES = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 240" role="img" aria-labelledby'
    '="final-title final-desc" class="histogram"><title id="final-title">Scores &lt;script&gt'
    ';</title><desc id="final-desc">0–9: 0, 10–19: 0, 20–29: 0, 30–39: 0, 40–49: 0, 50–59: 1,'
    ' 60–69: 0, 70–79: 2, 80–89: 0, 90–100: 1</desc><line x1="36" y1="204" x2="552" y2="204" '
    'stroke="currentColor"/><rect x="38.0" y="204.0" width="47.6" height="0.0" class="bar"><t'
    'itle>0–9: 0</title></rect><text x="61.8" y="220" text-anchor="middle" font-size="10">0–9'
    '</text><rect x="89.6" y="204.0" width="47.6" height="0.0" class="bar"><title>10–19: 0</t'
    'itle></rect><text x="113.4" y="220" text-anchor="middle" font-size="10">10–19</text><rec'
    't x="141.2" y="204.0" width="47.6" height="0.0" class="bar"><title>20–29: 0</title></rec'
    't><text x="165.0" y="220" text-anchor="middle" font-size="10">20–29</text><rect x="192.8'
    '" y="204.0" width="47.6" height="0.0" class="bar"><title>30–39: 0</title></rect><text x='
    '"216.6" y="220" text-anchor="middle" font-size="10">30–39</text><rect x="244.4" y="204.0'
    '" width="47.6" height="0.0" class="bar"><title>40–49: 0</title></rect><text x="268.2" y='
    '"220" text-anchor="middle" font-size="10">40–49</text><rect x="296.0" y="108.0" width="4'
    '7.6" height="96.0" class="bar"><title>50–59: 1</title></rect><text x="319.8" y="105.0" t'
    'ext-anchor="middle" font-size="11">1</text><text x="319.8" y="220" text-anchor="middle" '
    'font-size="10">50–59</text><rect x="347.6" y="204.0" width="47.6" height="0.0" class="ba'
    'r"><title>60–69: 0</title></rect><text x="371.4" y="220" text-anchor="middle" font-size='
    '"10">60–69</text><rect x="399.2" y="12.0" width="47.6" height="192.0" class="bar"><title'
    '>70–79: 2</title></rect><text x="423.0" y="9.0" text-anchor="middle" font-size="11">2</t'
    'ext><text x="423.0" y="220" text-anchor="middle" font-size="10">70–79</text><rect x="450'
    '.8" y="204.0" width="47.6" height="0.0" class="bar"><title>80–89: 0</title></rect><text '
    'x="474.6" y="220" text-anchor="middle" font-size="10">80–89</text><rect x="502.4" y="108'
    '.0" width="47.6" height="96.0" class="bar"><title>90–100: 1</title></rect><text x="526.2'
    '" y="105.0" text-anchor="middle" font-size="11">1</text><text x="526.2" y="220" text-anc'
    'hor="middle" font-size="10">90–100</text><line x1="397.2" y1="12" x2="397.2" y2="204" st'
    'roke-dasharray="4 3" class="pass-line" stroke="currentColor"/></svg>'
)
EMPTY = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 240" role="img" aria-labelledby'
    '="p-title p-desc" class="histogram"><title id="p-title">Final grades</title><desc id="p-'
    'desc">0–9: 0, 10–19: 0, 20–29: 0, 30–39: 0, 40–49: 0, 50–59: 0, 60–69: 0, 70–79: 0, 80–8'
    '9: 0, 90–100: 0</desc><line x1="36" y1="204" x2="552" y2="204" stroke="currentColor"/><r'
    'ect x="38.0" y="204.0" width="47.6" height="0.0" class="bar"><title>0–9: 0</title></rect'
    '><text x="61.8" y="220" text-anchor="middle" font-size="10">0–9</text><rect x="89.6" y="'
    '204.0" width="47.6" height="0.0" class="bar"><title>10–19: 0</title></rect><text x="113.'
    '4" y="220" text-anchor="middle" font-size="10">10–19</text><rect x="141.2" y="204.0" wid'
    'th="47.6" height="0.0" class="bar"><title>20–29: 0</title></rect><text x="165.0" y="220"'
    ' text-anchor="middle" font-size="10">20–29</text><rect x="192.8" y="204.0" width="47.6" '
    'height="0.0" class="bar"><title>30–39: 0</title></rect><text x="216.6" y="220" text-anch'
    'or="middle" font-size="10">30–39</text><rect x="244.4" y="204.0" width="47.6" height="0.'
    '0" class="bar"><title>40–49: 0</title></rect><text x="268.2" y="220" text-anchor="middle'
    '" font-size="10">40–49</text><rect x="296.0" y="204.0" width="47.6" height="0.0" class="'
    'bar"><title>50–59: 0</title></rect><text x="319.8" y="220" text-anchor="middle" font-siz'
    'e="10">50–59</text><rect x="347.6" y="204.0" width="47.6" height="0.0" class="bar"><titl'
    'e>60–69: 0</title></rect><text x="371.4" y="220" text-anchor="middle" font-size="10">60–'
    '69</text><rect x="399.2" y="204.0" width="47.6" height="0.0" class="bar"><title>70–79: 0'
    '</title></rect><text x="423.0" y="220" text-anchor="middle" font-size="10">70–79</text><'
    'rect x="450.8" y="204.0" width="47.6" height="0.0" class="bar"><title>80–89: 0</title></'
    'rect><text x="474.6" y="220" text-anchor="middle" font-size="10">80–89</text><rect x="50'
    '2.4" y="204.0" width="47.6" height="0.0" class="bar"><title>90–100: 0</title></rect><tex'
    't x="526.2" y="220" text-anchor="middle" font-size="10">90–100</text></svg>'
)


def draw(*args: object) -> str:
    return str(environment.get_template("_charts.html").module.histogram(*args))


def test_the_histogram_is_drawn_as_before() -> None:
    chart = histogram_layout(histogram([55, 75, 75, 100]), pass_line=70)
    assert draw(chart, "Scores <script>", "final") == FOUR_SCORES
    assert draw(histogram_layout(histogram([])), "Final grades", "p") == EMPTY


def test_the_histogram_escapes_its_title_and_names_its_ids_by_prefix() -> None:
    svg = draw(histogram_layout(histogram([55, 75]), pass_line=70), "Scores <script>", "h")
    assert svg.startswith("<svg") and "&lt;script&gt;" in svg and "<script>" not in svg
    assert 'aria-labelledby="h-title h-desc"' in svg and 'class="pass-line"' in svg
    other = draw(histogram_layout(histogram([55])), "Scores", "practical")
    assert 'id="practical-title"' in other and 'id="h-title"' not in other
    assert 'class="pass-line"' not in other
