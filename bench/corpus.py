"""The realistic corpus's writing and labelling tool (see tests/realistic/README.md).

    python bench/corpus.py list
    python bench/corpus.py brief PACK/SCENARIO     # what a trainee and an assessor see
    python bench/corpus.py play FILE.yaml          # replay the trainee lines of a transcript
    python bench/corpus.py new FILE.yaml PACK/SCENARIO VARIANT   # start a transcript
    python bench/corpus.py add FILE.yaml "TEXT" [GAP_S]          # add a line, replay it

`brief` prints a scenario without its matchers (`match`, `when`, `asked_by`, `ends_when`),
its facts' and reactions' texts or its examples: a writer or labeller sees only what a
trainee and an assessor would. `play` replays a corpus transcript's trainee lines through
the current engine and prints every line of the conversation, each persona line with its
kind (fact, reaction, fallback, nudge, farewell), so the writer can answer the reply the
persona really gave.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.engine.conversation import Conversation  # noqa: E402
from sandbox.scenarios.loader import load_packs  # noqa: E402
from sandbox.scenarios.models import Pack, Scenario  # noqa: E402

PACKS = ROOT / "scenario_packs"


def packs() -> dict[str, Pack]:
    loaded = load_packs([PACKS])
    return {pack.id: pack for pack in loaded.packs}


def find(full_id: str) -> tuple[Pack, Scenario]:
    pack_id, _, scenario_id = full_id.partition("/")
    pack = packs()[pack_id]
    return pack, pack.scenario(scenario_id)


def brief(full_id: str) -> str:
    pack, scenario = find(full_id)
    out = [
        f"scenario: {pack.id}/{scenario.id}  (locale {pack.locale})",
        f"title: {scenario.title}",
        f"brief: {scenario.brief}",
        f"persona: {scenario.persona.name}, mood {scenario.persona.mood}"
        + (f", age {scenario.persona.age}" if scenario.persona.age is not None else ""),
        f"time limit: {scenario.time_limit_s:g} s",
        f"opening (the customer's first message): {scenario.opening}",
        f"pass mark: {scenario.rubric.pass_mark:g}",
        "criteria:",
    ]
    for c in scenario.rubric.criteria:
        extra = []
        if c.critical:
            extra.append("CRITICAL")
        if c.kind == "forbidden":
            extra.append(f"penalty {c.effective_penalty:g}")
        else:
            extra.append(f"weight {c.effective_weight:g}")
        if c.check:
            extra.append(f"check {c.check}" + (f" max {c.max_s:g} s" if c.max_s else ""))
        if c.within_first:
            extra.append(f"only in the trainee's first {c.within_first} messages")
        if c.within_last:
            extra.append(f"only in the trainee's last {c.within_last} messages")
        if c.applies_if_revealed:
            extra.append(f"applies only if the customer revealed '{c.applies_if_revealed}'")
        if c.mood:
            extra.append(f"the customer's final mood is {c.mood}")
        if c.revealed:
            extra.append(f"the customer revealed '{c.revealed}'")
        out.append(f"  - {c.id} [{c.kind}; {'; '.join(extra)}]: {c.description or ''}")
    return "\n".join(out)


def transcript_lines(data: dict[str, Any]) -> list[tuple[str, float]]:
    lines: list[tuple[str, float]] = []
    at = 0.0
    for item in data.get("trainee") or []:
        if isinstance(item, str):
            text, when = item, None
        else:
            text, when = str(item["text"]), item.get("at")
        at = float(when) if when is not None else at + 30
        lines.append((text, at))
    return lines


def play(path: Path) -> str:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    pack, scenario = find(data["scenario"])
    conv = Conversation(pack.compiled[scenario.id], pack.locale)
    out: list[str] = []
    for text, at in transcript_lines(data):
        conv.receive(text, at=at)
    for index, message in enumerate(conv.messages):
        who = "TRAINEE" if message.role == "trainee" else f"CUSTOMER ({message.kind})"
        extra = ""
        if message.kind == "fact" and message.ref:
            extra = f"  [reveals fact '{message.ref}']"
        if message.mood:
            extra += f"  [mood now {message.mood}]"
        if message.end_reason:
            extra += f"  [conversation ended: {message.end_reason}]"
        out.append(f"{index:>2} {message.at:>6.0f}s {who}: {message.text}{extra}")
    if conv.ended:
        out.append(
            f"-- the conversation has ended ({conv.end_reason}); "
            "further trainee lines are refused --"
        )
    out.append(f"revealed facts: {', '.join(conv.revealed) or 'none'}; final mood: {conv.mood}")
    return "\n".join(out)


VARIANTS = {
    "a": "excellent",
    "b": "good",
    "c": "careless",
    "d": "subtle violation",
    "e": "tricky",
    # The second round, written blind by new writers: two more conversations per scenario
    # of the kinds the grader found hardest.
    "f": "subtle violation (round 2)",
    "g": "tricky (round 2)",
    # The third round, written blind after the second round's tuning: a subtle violation,
    # a tricky one and a good conversation in a trainee's own habits, per scenario.
    "h": "subtle violation (round 3)",
    "i": "tricky (round 3)",
    "j": "good, own habits (round 3)",
    # The fourth round, written blind after the third round's tuning: the two kinds the
    # held-out part fails most (a violation in words no list holds; a careful line whose
    # refusal or rejection spans sentences) and a careless one.
    "k": "subtle violation (round 4)",
    "l": "tricky and safe (round 4)",
    "m": "careless, one safety point missed (round 4)",
    # The fifth round, written blind after the fourth round's tuning, the way staff type
    # on a phone: an excellent conversation in short bursts, a violation inside an
    # otherwise careful conversation, and a careful trainee who quotes, hedges and
    # corrects themselves.
    "n": "excellent, typed on a phone (round 5)",
    "o": "violation inside a careful conversation (round 5)",
    "p": "careful, quoting and correcting themselves (round 5)",
    # The sixth round, written blind after the fifth round's tuning, on the two figures the
    # held-out part misses most: violations caught and false violations.
    "q": "violation by a tired or over-helpful trainee, in everyday words (round 6)",
    "r": "clean, talking safely around the forbidden thing (round 6)",
    # The seventh round, written blind after the sixth round's tuning, on the two kinds
    # the sixth round named as open: going along with a request after the fact that forbids
    # it came out, and careful refusals in words that do not say "can't".
    "s": "going along with the customer after the forbidding fact came out (round 7)",
    "t": "careful, refusing and redirecting kindly in own words (round 7)",
    # The eighth round, written blind after the seventh round's tuning and the going-along
    # rule, typed the way staff type on a phone in a hurry (no punctuation to end a clause,
    # typos, abbreviations), where negation and the end of a clause are hardest to read.
    "u": "violation typed in a hurry on a phone (round 8)",
    "v": "careful and clean, typed in a hurry on a phone (round 8)",
    # The ninth round, written blind after the eighth round's tuning, by experienced staff
    # who write whole sentences: the held-out part's largest gaps are false violations on
    # careful text and violations missed inside otherwise good practice.
    "w": "one violation inside excellent practice, in long, polite sentences (round 9)",
    "x": "excellent and clean, explaining risks at length, naming the forbidden things only "
    "to warn, refuse or correct (round 9)",
    # The tenth round, written blind after a session of rules from the in-context probes
    # (going along, "I'd be lying if I said"), as a fresh measure of text nobody tuned on.
    "y": "clean and careful in everyday words, typed casually: going along with what is "
    "safe, turning down what is not without textbook phrases (round 10)",
    "z": "one forbidden act, by going along with what the customer asked or in everyday "
    "words, inside otherwise decent practice (round 10)",
}


def holdout_variant(full_id: str) -> str:
    """The first round's variant of a scenario kept aside (a fifth), fixed by its id."""
    return "abcde"[sum(full_id.encode("utf-8")) % 5]


def holdout_variants(full_id: str) -> set[str]:
    """Every variant of a scenario kept aside: one of the first five, one of the second
    round's two, one of the third round's three, one of the fourth's three and one of the
    fifth's three (shifted by one and by two, so that each round's held-out kind is not
    always the third round's), one of the sixth round's two (shifted by one, so not
    always the second round's), one of the seventh's two, one of the eighth's two
    (shifted by one, so not always the seventh round's), one of the ninth's two and one
    of the tenth's two (shifted by one)."""
    total = sum(full_id.encode("utf-8"))
    return {
        holdout_variant(full_id),
        "fg"[total % 2],
        "hij"[total % 3],
        "klm"[(total + 1) % 3],
        "nop"[(total + 2) % 3],
        "qr"[(total + 1) % 2],
        "st"[total % 2],
        "uv"[(total + 1) % 2],
        "wx"[total % 2],
        "yz"[(total + 1) % 2],
    }


def new(path: Path, full_id: str, variant: str) -> str:
    find(full_id)  # the scenario must exist
    if variant not in VARIANTS:
        raise SystemExit(f"variant must be one of {', '.join(VARIANTS)}")
    if path.exists():
        raise SystemExit(f"{path} exists already")
    split = "holdout" if variant in holdout_variants(full_id) else "tune"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"scenario": full_id, "variant": variant, "split": split, "trainee": []}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return play(path)


def add(path: Path, text: str, gap: float) -> str:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    lines = transcript_lines(data)
    last = lines[-1][1] if lines else 0.0
    data.setdefault("trainee", [])
    data["trainee"] = [{"text": t, "at": round(a, 1)} for t, a in lines]
    data["trainee"].append({"text": text, "at": round(last + gap, 1)})
    path.write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8"
    )
    return play(path)


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "list":
        for pack in packs().values():
            for scenario in pack.scenarios:
                print(f"{pack.id}/{scenario.id}\t{pack.locale}\t{scenario.title}")
        return 0
    if len(argv) == 2 and argv[0] == "brief":
        print(brief(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "play":
        print(play(Path(argv[1])))
        return 0
    if len(argv) == 4 and argv[0] == "new":
        print(new(Path(argv[1]), argv[2], argv[3]))
        return 0
    if len(argv) in (3, 4) and argv[0] == "add":
        print(add(Path(argv[1]), argv[2], float(argv[3]) if len(argv) == 4 else 30.0))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
