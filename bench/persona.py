"""The persona's share of a chat turn: CPU per trainee message, v1 packs against v2.

    python bench/persona.py [--before FOLDER] [--rounds N]

Replays every trainee line of the realistic corpus through the engine of its scenario, turn
by turn, as the chat does, and reports the CPU time per turn (process time, one core) for
the bundled packs and, with `--before`, for another folder of the same packs (for example
the v1 packs from git history: `git show REV:scenario_packs/PACK.yaml`). Caches are cleared
between rounds so every message is read afresh.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.engine.conversation import Conversation  # noqa: E402
from sandbox.scenarios.loader import load_packs  # noqa: E402
from sandbox.text import segmenter  # noqa: E402
from sandbox.text.lemmas import lemma  # noqa: E402


def conversations() -> list[tuple[str, list[tuple[str, float]]]]:
    found = []
    for path in sorted((ROOT / "tests" / "realistic" / "transcripts").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        lines, at = [], 0.0
        for item in data["trainee"]:
            at = float(item.get("at") or at + 30)
            lines.append((str(item["text"]), at))
        found.append((data["scenario"], lines))
    return found


def per_turn_ms(folder: Path, rounds: int) -> tuple[float, int]:
    packs = {p.id: p for p in load_packs([folder]).packs}
    for pack in packs.values():
        pack.compiled  # compile once, as a server does at start  # noqa: B018
    corpus = conversations()
    times = []
    turns = 0
    for _ in range(rounds):
        segmenter._cut.cache_clear()
        segmenter._cut_domain.cache_clear()
        lemma.cache_clear()
        turns = 0
        start = time.process_time()
        for scenario, lines in corpus:
            pack_id, _, scenario_id = scenario.partition("/")
            pack = packs[pack_id]
            conv = Conversation(pack.compiled[scenario_id], pack.locale)
            for text, at in lines:
                conv.receive(text, at)
                turns += 1
        times.append((time.process_time() - start) * 1000 / turns)
    return statistics.median(times), turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a folder of the same packs to compare")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    if args.before:
        rows.append(("before", *per_turn_ms(args.before, args.rounds)))
    rows.append(("bundled", *per_turn_ms(ROOT / "scenario_packs", args.rounds)))
    print("| packs | persona CPU per turn | turns |")
    print("| --- | --- | --- |")
    for name, ms, turns in rows:
        print(f"| {name} | {ms:.3f} ms | {turns} |")


if __name__ == "__main__":
    main()
