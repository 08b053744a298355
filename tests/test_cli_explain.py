"""`sandbox replay` and `sandbox explain`: the engine's lines with their rules, and why a
criterion matched or not, message by message (v1 and v2 packs), through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_packs import ROOT, assert_refused, output, run
from test_format_v2 import EN_PACK

PHARMACY = ROOT / "scenario_packs" / "pharmacy-service-en.yaml"


def transcript(tmp_path: Path, pack: str, scenario: str, lines: list[str]) -> Path:
    path = tmp_path / "t.json"
    messages = [{"role": "trainee", "text": t, "at": 10.0 * (i + 1)} for i, t in enumerate(lines)]
    path.write_text(
        json.dumps({"pack": pack, "scenario": scenario, "messages": messages}), encoding="utf-8"
    )
    return path


def test_replay_names_each_persona_line_and_its_rule(tmp_path: Path) -> None:
    t = transcript(
        tmp_path,
        "pharmacy-service-en",
        "ibuprofen-on-warfarin",
        ["hi! are u on any other meds?", "lovely weather"],
    )
    result = run("replay", PHARMACY, t, "--json")
    assert result.returncode == 0, output(result)
    lines = json.loads(result.stdout)["messages"]
    persona = [(m["kind"], m["rule"]) for m in lines if m["role"] == "persona"]
    assert persona[0] == ("opening", "opening")
    assert persona[1] == ("fact", "facts.on-warfarin")
    assert persona[2] == ("fallback", "fallback (nothing else matched)")
    text = run("replay", PHARMACY, t).stdout
    assert "persona [fact: facts.on-warfarin]" in text


def test_explain_shows_the_negation_that_cancelled_a_warning(tmp_path: Path) -> None:
    t = transcript(
        tmp_path,
        "pharmacy-service-en",
        "ibuprofen-on-warfarin",
        ["are u on any other meds?", "Ibuprofen won't cause bleeding, don't worry"],
    )
    result = run("explain", PHARMACY, t, "--criterion", "nsaid-warning", "--json")
    assert result.returncode == 0, output(result)
    data = json.loads(result.stdout)
    assert data["status"] == "missed"
    assert "negat" in data["reason"]
    second = data["messages"][1]
    assert not second["matched"]
    assert any(not f["counts"] and "negated" in f["why"] for f in second["findings"])


def test_explain_names_the_concept_and_the_negation_reach_in_v2(tmp_path: Path) -> None:
    pack = tmp_path / "v2.yaml"
    pack.write_text(EN_PACK, encoding="utf-8")
    t = transcript(
        tmp_path,
        "v2-en",
        "naproxen",
        ["Nobody can promise that.", "Have you tried paracetamol?", "It's totally safe."],
    )
    promise = json.loads(run("explain", pack, t, "--criterion", "promise", "--json").stdout)
    assert promise["status"] == "violated"
    first, _, third = promise["messages"]
    assert not first["matched"] and third["matched"]
    (cancelled,) = first["findings"]
    assert cancelled["concept"] == "~certainty"
    assert cancelled["why"].startswith("negated by 'nobody'")
    assert "message 2" in promise["reason"]
    suggest = json.loads(
        run("explain", pack, t, "--criterion", "suggests-paracetamol", "--json").stdout
    )
    assert suggest["status"] == "missed"
    assert "in a question" in suggest["reason"]


def test_explain_refuses_an_unknown_criterion(tmp_path: Path) -> None:
    t = transcript(tmp_path, "pharmacy-service-en", "ibuprofen-on-warfarin", ["hi"])
    assert_refused(
        run("explain", PHARMACY, t, "--criterion", "nope"), "no criterion 'nope'", "nsaid-warning"
    )


# --- the lexicon ------------------------------------------------------------------------


def test_lexicon_show_prints_a_concepts_phrases_in_both_languages() -> None:
    result = run("lexicon", "show", "~nsaid", "--json")
    assert result.returncode == 0, output(result)
    data = json.loads(result.stdout)
    assert "ibuprofen" in data["phrases"]["en"] and "布洛芬" in data["phrases"]["zh-CN"]
    assert data["source"].endswith(".yaml:" + data["source"].rsplit(":", 1)[1])
    assert_refused(run("lexicon", "show", "~nsiad"), "no concept '~nsiad'", "~nsaid")


def test_an_organisation_lexicon_extends_a_concept_and_is_validated(tmp_path: Path) -> None:
    org = tmp_path / "org"
    org.mkdir()
    (org / "brands.yaml").write_text(
        "concepts:\n  nsaid:\n    en: [brufen-plus]\n", encoding="utf-8"
    )
    shown = json.loads(run("lexicon", "show", "~nsaid", "--lexicon", org, "--json").stdout)
    assert "brufen-plus" in shown["phrases"]["en"]
    pack = tmp_path / "v2.yaml"
    pack.write_text(EN_PACK.replace("[~paracetamol]", "[~org-only]"), encoding="utf-8")
    assert_refused(run("validate", pack), "no concept '~org-only'")
    (org / "more.yaml").write_text(
        "concepts:\n  org-only:\n    description: x\n    en: [calpol]\n", encoding="utf-8"
    )
    result = run("validate", pack, "--lexicon", org)
    assert result.returncode == 0, output(result)
    (org / "bad.yaml").write_text("concepts:\n  broken:\n    en: ['a*b']\n", encoding="utf-8")
    text = assert_refused(run("validate", org))
    assert f"{org / 'bad.yaml'}:3:" in text


def test_validate_checks_the_bundled_lexicon() -> None:
    result = run("validate", ROOT / "lexicon", ROOT / "scenario_packs")
    assert result.returncode == 0, output(result)
    assert "lexicon file" in result.stdout
