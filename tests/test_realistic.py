"""The realistic corpus (tests/realistic/): complete labels, and grading that follows them.

The figures themselves are reported by `bench/fairness.py` in docs/grading-quality.md; this
test keeps the corpus whole and stops a change that would take the whole-corpus figures
back below the targets of the understanding work.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from sandbox.scenarios.bundled import BUNDLED_PACKS
from sandbox.scenarios.loader import load_packs

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "realistic"
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402
import fairness  # noqa: E402
import probes  # noqa: E402


def transcripts() -> list[Path]:
    return sorted((CORPUS / "transcripts").rglob("*.yaml"))


def test_every_scenario_has_its_transcripts_some_held_out() -> None:
    """Five of the first round (a-e, one held out), two of the second (f, g, one held out),
    three of the third (h, i, j, one held out) and three of the fourth (k, l, m, one held
    out), the fifth round's three (n, o, p) and the sixth's two (q, r), one of each held out."""
    packs = load_packs([BUNDLED_PACKS]).packs
    scenarios = {f"{p.id}/{s.id}" for p in packs for s in p.scenarios}
    seen: dict[str, dict[str, str]] = {}
    for path in transcripts():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert path.stem.endswith(f"-{data['variant']}"), path
        seen.setdefault(data["scenario"], {})[data["variant"]] = data["split"]
        assert data["trainee"], path
    assert set(seen) == scenarios
    for scenario, splits in seen.items():
        assert set(splits) == set("abcdefghijklmnopqrstuvwxyz"), scenario
        held = {v for v, split in splits.items() if split == "holdout"}
        assert held == corpus.holdout_variants(scenario) & set(splits), scenario


@pytest.mark.parametrize("labeller", ["assessor", "writer"])
def test_every_criterion_of_every_transcript_is_labelled(labeller: str) -> None:
    packs = {p.id: p for p in load_packs([BUNDLED_PACKS]).packs}
    for path in transcripts():
        rel = path.relative_to(CORPUS / "transcripts")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        pack_id, _, scenario_id = data["scenario"].partition("/")
        ids = {c.id for c in packs[pack_id].scenario(scenario_id).rubric.criteria}
        labels = yaml.safe_load((CORPUS / "labels" / labeller / rel).read_text(encoding="utf-8"))
        # Criteria added to a pack after labelling are labelled later; none may go stale.
        assert set(labels) <= ids, rel
        assert len(labels) >= len(ids) - 2, rel
        for value in labels.values():
            assert value["label"] in fairness.STATUS, rel


def test_grading_follows_the_assessor_where_it_was_tuned_and_holds_its_ground_elsewhere() -> None:
    """The tune part meets the understanding work's targets; the held-out part (never tuned
    on) does not yet, so it is held to the figures it has reached (docs/grading-quality.md):
    a change that makes grading worse on text nobody tuned on fails here."""
    tallies, unlabelled = fairness.evaluate("assessor")
    assert unlabelled == []
    tune = fairness.combine([t for (part, _), t in tallies.items() if part == "tune"]).figures()
    assert tune["pass_fail_agreement"] >= 93
    assert tune["violations_caught_pct"] >= 90
    # Six rounds' tune parts: 6 false violations of 559 clear verdicts
    # (docs/grading-quality.md).
    assert tune["false_violations_pct"] <= 2
    assert tune["persona_fallback_pct"] <= 15
    held = fairness.combine([t for (part, _), t in tallies.items() if part == "holdout"]).figures()
    # Six rounds held out (192 transcripts): the floors are where this work left them
    # (74.0%, 38/69, 32/276, 6.6%; 71.9%, 36/69, 36/276 when round 6 arrived).
    assert held["pass_fail_agreement"] >= 72
    assert held["violations_caught_pct"] >= 52
    assert held["false_violations_pct"] <= 12.5
    assert held["persona_fallback_pct"] <= 15


def test_every_probe_names_a_matched_criterion_and_the_rules_reach_its_tune_part() -> None:
    """Sentence probes (tests/realistic/README.md): each names a criterion of its scenario
    that has a `match`, with `yes` and `no` sentences; on the tune part the rules count most
    `yes` sentences and few `no` ones (the held-out fifth is reported, not held to this)."""
    packs = {p.id: p for p in load_packs([BUNDLED_PACKS]).packs}
    files = probes.probe_files()
    # four rounds (round 3's, `round-2/`, `in-context/` and `in-context-2/`), each with a
    # file for every bundled scenario; in-context files replay the trainee's earlier lines
    assert len(files) == 128
    assert len({yaml.safe_load(p.read_text(encoding="utf-8"))["scenario"] for p in files}) == 32
    assert sum("context" in yaml.safe_load(p.read_text(encoding="utf-8")) for p in files) == 64
    yes = hit = no = false = 0
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        pack_id, _, scenario_id = data["scenario"].partition("/")
        pack = packs[pack_id]
        context = data.get("context")
        criteria = {c.id: c for c in pack.scenario(scenario_id).rubric.criteria}
        for criterion_id, sentences in data["criteria"].items():
            assert criteria[criterion_id].match is not None, (path, criterion_id)
            said = sentences.get("yes") or sentences.get(True)
            unsaid = sentences.get("no") or sentences.get(False)
            assert said and unsaid, (path, criterion_id)
            for text in said:
                if not probes.held_out(text):
                    yes += 1
                    hit += probes.judge(pack, scenario_id, criterion_id, text, context)
            for text in unsaid:
                if not probes.held_out(text):
                    no += 1
                    false += probes.judge(pack, scenario_id, criterion_id, text, context)
    assert yes > 2000 and no > 1500
    assert hit / yes >= 0.93
    assert false / no <= 0.07
