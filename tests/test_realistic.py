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


def transcripts() -> list[Path]:
    return sorted((CORPUS / "transcripts").rglob("*.yaml"))


def test_every_scenario_has_five_transcripts_one_held_out() -> None:
    """Round 1: variants a-e of every scenario, one held out. Round 2 (f, g) adds at most
    one of each, and its held-out variant follows the same rule (`bench/corpus.py`)."""
    packs = load_packs([BUNDLED_PACKS]).packs
    scenarios = {f"{p.id}/{s.id}" for p in packs for s in p.scenarios}
    seen: dict[str, list[str]] = {}
    for path in transcripts():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        scenario, variant = data["scenario"], str(data["variant"])
        assert path.stem == f"{scenario.partition('/')[2]}-{variant}", path
        expected = "holdout" if variant in corpus.holdout_variants(scenario) else "tune"
        assert data["split"] == expected, path
        seen.setdefault(scenario, []).append(variant)
        assert data["trainee"], path
    assert set(seen) == scenarios
    for scenario, variants in seen.items():
        first = sorted(v for v in variants if v in "abcde")
        second = [v for v in variants if v in "fg"]
        assert first == list("abcde"), scenario
        assert len(second) == len(set(second)), scenario
        assert sum(1 for v in first if v in corpus.holdout_variants(scenario)) == 1


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


def test_grading_follows_the_assessor_on_the_whole_corpus() -> None:
    tallies, unlabelled = fairness.evaluate("assessor")
    assert unlabelled == []
    figures = fairness.combine(list(tallies.values())).figures()
    assert figures["pass_fail_agreement"] >= 90
    assert figures["violations_caught_pct"] >= 80
    assert figures["false_violations_pct"] <= 2
    assert figures["persona_fallback_pct"] <= 15
