"""Grading fairness on the realistic corpus (tests/realistic/, docs/grading-quality.md).

    python bench/fairness.py [--json] [--labels assessor|writer] [--details]

Each transcript's trainee lines are replayed through the current engine and graded; every
criterion's verdict is compared with the label a careful assessor gave before grading.
Reported per part (tune, holdout) and language:

- criterion agreement: verdicts equal to the label, of all labelled criteria;
- pass/fail agreement: transcripts whose pass/fail equals the one the format's scoring rule
  gives from the labels;
- violations caught: labelled violations the grader found;
- false violations: violations the grader found where the label is clear, of all criteria
  labelled clear;
- persona fallback: the persona's fallback lines, of the trainee lines it answered;
- label agreement: the writer's labels against the assessor's (the ceiling for a grader);
- review flags: the share of the grader's disagreements with the labels that carry a review
  flag (`sandbox/evaluator/flags.py`), and the share of all labelled verdicts flagged; with
  `--flags`, the count per reason code and which flagged verdicts were right or wrong.

`--details` lists every disagreement (transcript, criterion, label, verdict, evidence) and
`--fallbacks` every trainee line the persona answered with a fallback, of the tune part
only: the held-out part is never looked at line by line while tuning. `--pack ID` keeps
one pack's transcripts, `--variants fg` the second round's, and `--part tune` computes
nothing of the held-out part (use it while tuning: even its totals stay unseen).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.engine.conversation import Conversation  # noqa: E402
from sandbox.evaluator.grading import grade  # noqa: E402
from sandbox.evaluator.scoring import Verdict, score_verdicts  # noqa: E402
from sandbox.evaluator.transcript import parse_transcript_data  # noqa: E402
from sandbox.scenarios.loader import load_packs  # noqa: E402
from sandbox.scenarios.models import Pack  # noqa: E402

CORPUS = ROOT / "tests" / "realistic"
STATUS = {"m": "met", "x": "missed", "na": "not_applicable", "v": "violated", "c": "clear"}


@dataclass
class Tally:
    transcripts: int = 0
    criteria: int = 0
    agree: int = 0
    passfail_agree: int = 0
    violations: int = 0
    caught: int = 0
    clear: int = 0
    false_violations: int = 0
    trainee_lines: int = 0
    fallbacks: int = 0
    label_pairs: int = 0
    label_agree: int = 0
    # Outcome criteria (final mood, fact revealed) were labelled from the persona of the
    # day: when the persona changes, their labels age. Agreement without them is reported.
    plain_criteria: int = 0
    plain_agree: int = 0
    flagged: int = 0
    wrong_flagged: int = 0
    reasons: dict[str, list[int]] = field(default_factory=dict)  # code: [right, wrong]
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    fallback_lines: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        def share(a: int, b: int) -> float | None:
            return round(100 * a / b, 1) if b else None

        return {
            "transcripts": self.transcripts,
            "criterion_agreement": share(self.agree, self.criteria),
            "criterion_agreement_without_outcomes": share(self.plain_agree, self.plain_criteria),
            "pass_fail_agreement": share(self.passfail_agree, self.transcripts),
            "violations_caught": f"{self.caught}/{self.violations}",
            "violations_caught_pct": share(self.caught, self.violations),
            "false_violations": f"{self.false_violations}/{self.clear}",
            "false_violations_pct": share(self.false_violations, self.clear),
            "persona_fallback_pct": share(self.fallbacks, self.trainee_lines),
            "label_agreement_pct": share(self.label_agree, self.label_pairs),
            "disagreements_flagged": f"{self.wrong_flagged}/{self.criteria - self.agree}",
            "disagreements_flagged_pct": share(self.wrong_flagged, self.criteria - self.agree),
            "verdicts_flagged": f"{self.flagged}/{self.criteria}",
            "verdicts_flagged_pct": share(self.flagged, self.criteria),
            "reasons": {
                code: {"right": r, "wrong": w} for code, (r, w) in sorted(self.reasons.items())
            },
        }


def read_labels(path: Path) -> dict[str, str] | None:
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    labels = {}
    for cid, value in data.items():
        label = value.get("label") if isinstance(value, dict) else value
        labels[str(cid)] = STATUS[str(label)]
    return labels


def timed(items: list[Any]) -> list[tuple[str, float]]:
    lines, at = [], 0.0
    for item in items:
        text, when = (item, None) if isinstance(item, str) else (item["text"], item.get("at"))
        at = float(when) if when is not None else at + 30
        lines.append((str(text), at))
    return lines


def evaluate(
    label_set: str,
    pack_filter: str | None = None,
    part: str | None = None,
    variants: str | None = None,
) -> tuple[dict[tuple[str, str], Tally], list[str]]:
    packs: dict[str, Pack] = {p.id: p for p in load_packs([ROOT / "scenario_packs"]).packs}
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    unlabelled: list[str] = []
    for path in sorted((CORPUS / "transcripts").rglob("*.yaml")):
        rel = path.relative_to(CORPUS / "transcripts")
        if pack_filter is not None and rel.parts[0] != pack_filter:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if part is not None and data.get("split", "tune") != part:
            continue
        if variants is not None and str(data.get("variant", "")) not in variants:
            continue
        labels = read_labels(CORPUS / "labels" / label_set / rel)
        if labels is None:
            unlabelled.append(str(rel))
            continue
        other = read_labels(
            CORPUS / "labels" / ("writer" if label_set == "assessor" else "assessor") / rel
        )
        pack_id, _, scenario_id = data["scenario"].partition("/")
        pack = packs[pack_id]
        scenario = pack.scenario(scenario_id)
        conversation = Conversation(pack.compiled[scenario.id], pack.locale)
        for text, at in timed(data.get("trainee") or []):
            conversation.receive(text, at=at)
        transcript = parse_transcript_data(
            {
                "pack": pack_id,
                "scenario": scenario_id,
                "messages": [m.to_json() for m in conversation.messages],
            },
            str(rel),
        )
        result = grade(pack, scenario, transcript)
        tally = tallies[(data.get("split", "tune"), pack.locale)]
        tally.transcripts += 1
        answered = [m for m in conversation.messages if m.role == "trainee"]
        tally.trainee_lines += len(answered)
        messages = conversation.messages
        for i, m in enumerate(messages):
            if m.kind == "fallback":
                tally.fallbacks += 1
                asked = next((p.text for p in reversed(messages[:i]) if p.role == "trainee"), "")
                tally.fallback_lines.append(f"{rel}\t{asked}\t-> {m.text}")
        human: list[Verdict] = []
        for item in result.criteria:
            c = item.criterion
            label = labels.get(c.id)
            if label is None:
                continue
            amount = c.effective_penalty if c.kind == "forbidden" else c.effective_weight
            human.append(Verdict(c.id, c.kind, label, amount, c.critical))  # type: ignore[arg-type]
            tally.criteria += 1
            tally.agree += label == item.status
            if c.kind != "outcome":
                tally.plain_criteria += 1
                tally.plain_agree += label == item.status
            if label == "violated":
                tally.violations += 1
                tally.caught += item.status == "violated"
            if label == "clear":
                tally.clear += 1
                tally.false_violations += item.status == "violated"
            if item.review is not None:
                tally.flagged += 1
                tally.wrong_flagged += label != item.status
                counts = tally.reasons.setdefault(item.review.reason, [0, 0])
                counts[label != item.status] += 1
            if label != item.status:
                tally.disagreements.append(
                    {
                        "transcript": str(rel),
                        "criterion": c.id,
                        "kind": c.kind,
                        "label": label,
                        "grader": item.status,
                        "evidence": [e.text for e in item.evidence][:2],
                        "flag": item.review.reason if item.review else None,
                    }
                )
            if other is not None and c.id in other:
                tally.label_pairs += 1
                tally.label_agree += other[c.id] == label
        expected = score_verdicts(human, scenario.rubric.pass_mark)
        tally.passfail_agree += expected.passed == result.passed
    return tallies, unlabelled


def combine(parts: list[Tally]) -> Tally:
    total = Tally()
    for t in parts:
        for name in (
            "transcripts",
            "criteria",
            "agree",
            "passfail_agree",
            "violations",
            "caught",
            "clear",
            "false_violations",
            "trainee_lines",
            "fallbacks",
            "label_pairs",
            "label_agree",
            "plain_criteria",
            "plain_agree",
            "flagged",
            "wrong_flagged",
        ):
            setattr(total, name, getattr(total, name) + getattr(t, name))
        for code, (right, wrong) in t.reasons.items():
            counts = total.reasons.setdefault(code, [0, 0])
            counts[0] += right
            counts[1] += wrong
        total.disagreements.extend(t.disagreements)
        total.fallback_lines.extend(t.fallback_lines)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--labels", choices=["assessor", "writer"], default="assessor")
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--fallbacks", action="store_true")
    parser.add_argument("--pack", help="only this pack's transcripts")
    parser.add_argument("--flags", action="store_true", help="review flags per reason code")
    parser.add_argument(
        "--part",
        choices=["tune", "holdout"],
        help="only this part (--part tune while tuning: no held-out figure is computed)",
    )
    parser.add_argument(
        "--variants", help="only these variants, e.g. fg for the second round's transcripts"
    )
    args = parser.parse_args()
    tallies, unlabelled = evaluate(args.labels, args.pack, args.part, args.variants)
    rows: dict[str, Tally] = {}
    for split in ("tune", "holdout"):
        for locale in ("en", "zh-CN"):
            if (split, locale) in tallies:
                rows[f"{split} {locale}"] = tallies[(split, locale)]
        parts = [t for (s, _), t in tallies.items() if s == split]
        if parts or split == "tune":
            rows[f"{split} all"] = combine(parts)
    rows["all"] = combine(list(tallies.values()))
    if args.json:
        print(
            json.dumps(
                {
                    "labels": args.labels,
                    "unlabelled": unlabelled,
                    "parts": {k: v.figures() for k, v in rows.items()},
                },
                indent=2,
            )
        )
        return 0
    if args.fallbacks:
        print("\n".join(rows["tune all"].fallback_lines), end="\n\n")
    if args.details:
        for d in rows["tune all"].disagreements:
            print(
                f"{d['transcript']}\t{d['criterion']} ({d['kind']})\tlabel {d['label']}"
                f"\tgrader {d['grader']}\tflag {d['flag'] or '-'}\t{' | '.join(d['evidence'])}"
            )
        print()
    if unlabelled:
        print(f"({len(unlabelled)} transcripts without {args.labels} labels left out)")
    head = (
        f"{'part':<14}{'n':>4}{'criterion':>11}{'pass/fail':>11}{'violations':>12}"
        f"{'false viol.':>13}{'fallback':>10}{'labels':>8}{'mistakes flagged':>18}"
        f"{'flagged':>14}"
    )
    print(f"labels: {args.labels}")
    print(head)
    for name, t in rows.items():
        f = t.figures()

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}%"

        print(
            f"{name:<14}{t.transcripts:>4}{pct(f['criterion_agreement']):>11}"
            f"{pct(f['pass_fail_agreement']):>11}{f['violations_caught']:>12}"
            f"{f['false_violations']:>13}{pct(f['persona_fallback_pct']):>10}"
            f"{pct(f['label_agreement_pct']):>8}"
            f"{f['disagreements_flagged'] + ' ' + pct(f['disagreements_flagged_pct']):>18}"
            f"{f['verdicts_flagged'] + ' ' + pct(f['verdicts_flagged_pct']):>14}"
        )
    if args.flags:
        print("\nreview flags (all parts): reason, verdicts right / wrong")
        for code, (right, wrong) in sorted(rows["all"].reasons.items()):
            print(f"  {code:<20}{right:>5}{wrong:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
