"""Sentence probes: does each criterion's rule read single trainee sentences as an assessor would?

    python bench/probes.py                   # per language and criterion kind, both parts
    python bench/probes.py --part tune --details   # the tune part's disagreements, one a line
    python bench/probes.py --probes tests/realistic/probes/round-2   # one batch alone

Probe files (`tests/realistic/probes/PACK/SCENARIO.yaml`, and later batches in subfolders such
as `round-2/PACK/SCENARIO.yaml`; tests/realistic/README.md) hold,
per criterion of a scenario, sentences a trainee might type in that conversation, written
blind from the criterion's description (never its matcher) and sorted by the writer into
`yes` (a careful assessor counts it: the disclosure is made, the question asked, the
forbidden thing said) and `no` (near misses: negated, rejected, asked instead of told, the
topic without the point). Each sentence is read on its own, as the scenario reads a
message, and the criterion's `match` is applied with its negation and speech-act rules.

A fifth of the sentences is held out (by a hash of the text, `held_out`): `--details` never
prints them, so phrases and concepts are tuned only on the rest and both parts are reported.
Probes test the rules' reach over wording; the transcripts of the corpus (bench/fairness.py)
test whole conversations, with the persona and the outcome criteria.

A probe file with a `context` (`in-context/PACK/SCENARIO.yaml`: the trainee's earlier lines,
maybe none) is read in the conversation instead: the persona's opening, those lines and the
persona's answers, then the probe as the trainee's next message, graded as a transcript. A
warning may then say "this one" or leave out the drug the customer named, and a forbidden
act may be a "sure, I'll send it" that goes along with what the customer asked.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.engine.conversation import Conversation  # noqa: E402
from sandbox.evaluator.grading import grade  # noqa: E402
from sandbox.evaluator.transcript import parse_transcript_data  # noqa: E402
from sandbox.scenarios.loader import load_packs  # noqa: E402
from sandbox.scenarios.models import Pack  # noqa: E402

PROBES = ROOT / "tests" / "realistic" / "probes"
PACKS = ROOT / "scenario_packs"


def held_out(text: str) -> bool:
    """One sentence in five is held out, fixed by its text."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 5 == 0


def probe_files(root: Path = PROBES) -> list[Path]:
    """Every probe file under `root`, batches in subfolders included (`round-2/PACK/...`)."""
    return sorted(root.glob("**/*.yaml"))


def judge(
    pack: Pack, scenario_id: str, criterion_id: str, text: str, context: Sequence[str] | None = None
) -> bool:
    """Whether the criterion's rule counts `text` as a message of the scenario.

    With a `context` (the trainee's earlier lines, maybe none: `in-context/` probes), the
    conversation is replayed from the persona's opening with `text` as the trainee's next
    message, and the whole transcript is graded: `text` counts when the criterion is met or
    violated (a forbidden one also by going along with what the customer asked).
    """
    if context is not None:
        return _graded_in_context(pack, scenario_id, criterion_id, [*context, text])
    compiled = pack.compiled[scenario_id]
    for criterion, matcher in compiled.criteria:
        if criterion.id == criterion_id:
            if matcher is None:
                raise SystemExit(f"{scenario_id}/{criterion_id} has no match rule")
            view = compiled.read(text)
            return matcher.admits(view.present()) and matcher.confirm(
                view, criterion.negation_aware, compiled.act(criterion)
            )
    raise SystemExit(f"{pack.id}/{scenario_id} has no criterion {criterion_id!r}")


def _graded_in_context(
    pack: Pack, scenario_id: str, criterion_id: str, lines: Sequence[str]
) -> bool:
    scenario = pack.scenario(scenario_id)
    conversation = Conversation.replay(
        pack.compiled[scenario_id], pack.locale, [(t, 10.0 * (i + 1)) for i, t in enumerate(lines)]
    )
    transcript = parse_transcript_data(conversation.transcript(pack.id), "probe")
    for verdict in grade(pack, scenario, transcript).criteria:
        if verdict.id == criterion_id:
            return verdict.status in ("met", "violated")
    raise SystemExit(f"{pack.id}/{scenario_id} has no criterion {criterion_id!r}")


def run(part: str, details: bool, pack_filter: str | None, root: Path = PROBES) -> None:
    packs = {p.id: p for p in load_packs([PACKS]).packs}
    # (part, locale, kind) -> [yes total, yes counted, no total, no counted]
    tallies: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for path in probe_files(root):
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        pack_id, _, scenario_id = str(data["scenario"]).partition("/")
        if pack_filter and pack_id != pack_filter:
            continue
        pack = packs[pack_id]
        kinds = {c.id: c.kind for c in pack.scenario(scenario_id).rubric.criteria}
        context = None if "context" not in data else [str(t) for t in data["context"] or ()]
        for criterion_id, sentences in (data.get("criteria") or {}).items():
            for expected in ("yes", "no"):
                # YAML 1.1 reads a bare yes/no key as a boolean: accept both spellings.
                texts = sentences.get(expected) or sentences.get(expected == "yes") or ()
                for text in texts:
                    this = "holdout" if held_out(text) else "tune"
                    if part != "all" and this != part:
                        continue
                    counted = judge(pack, scenario_id, criterion_id, text, context)
                    row = tallies[this, pack.locale, kinds[criterion_id]]
                    row[0 if expected == "yes" else 2] += 1
                    row[1 if expected == "yes" else 3] += counted
                    wrong = counted != (expected == "yes")
                    if details and wrong and this == "tune":
                        print(f"{pack_id}/{scenario_id}\t{criterion_id}\t{expected}\t{text}")
    print(f"{'part':8} {'locale':6} {'kind':17} {'yes counted':>14} {'no counted':>14}")
    for key in sorted(tallies):
        yes, yes_hit, no, no_hit = tallies[key]
        print(
            f"{key[0]:8} {key[1]:6} {key[2]:17} {_share(yes_hit, yes):>14} {_share(no_hit, no):>14}"
        )
    for this in ("tune", "holdout"):
        for locale in ("en", "zh-CN"):
            rows = [v for k, v in tallies.items() if k[0] == this and k[1] == locale]
            if rows:
                total = [sum(col) for col in zip(*rows, strict=True)]
                print(
                    f"{this:8} {locale:6} {'all':17} {_share(total[1], total[0]):>14} "
                    f"{_share(total[3], total[2]):>14}"
                )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} {100 * part / whole:.0f}%" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("all", "tune", "holdout"), default="all")
    parser.add_argument("--details", action="store_true", help="the tune part's disagreements")
    parser.add_argument("--pack", help="one pack's probes only")
    parser.add_argument(
        "--probes",
        type=Path,
        default=PROBES,
        help="only the probe files under this folder (a batch, e.g. on its arrival)",
    )
    args = parser.parse_args()
    run(args.part, args.details, args.pack, args.probes)


if __name__ == "__main__":
    main()
