"""Start-up time of the commands pack authors run all day, beside `python -c pass`.

    python bench/cli_startup.py              # 15 rounds
    python bench/cli_startup.py --rounds 5   # quicker
    python bench/cli_startup.py --compare ../other-checkout   # before/after, interleaved

Each round runs, one after the other (so every command sees the same machine):
- `python -c pass`                      the interpreter's own start-up, the floor;
- `sandbox --help`
- `sandbox validate tiny.yaml`          a one-scenario English pack (written to a temp folder);
- `sandbox test tiny.yaml`              the same pack's one example replayed and checked;
- `sandbox validate` of a one-scenario Chinese pack, and `sandbox test` of it (jieba's
  dictionary is loaded: the cost a Chinese pack cannot avoid).
The command is `python -m sandbox` with the interpreter running this script, run in a
temporary folder: the checkout measured is the one on PYTHONPATH (or the installed one), so
set PYTHONPATH to compare two checkouts. Reported: the minimum and the median wall-clock time
of each, in milliseconds (the minimum is the least disturbed by other work on the machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The small English pack the start-up test uses too.
TINY_EN = (ROOT / "tests" / "data" / "tiny-pack-en.yaml").read_text(encoding="utf-8")

TINY_ZH = """\
pack:
  id: tiny-zh
  title: 小包
  locale: zh-CN
scenarios:
  - id: cold
    title: 感冒的顾客
    brief: 顾客感冒了，想买药。
    time_limit_s: 600
    persona:
      name: 王女士
      mood: worried
    opening: "你好，我感冒了，吃什么药好？"
    facts:
      - id: takes-pills
        asked_by: ["吃药"]
        reply: "我在吃降压药。"
    fallback: "什么？"
    ends_when: ["再见"]
    farewell: "好的，再见。"
    rubric:
      criteria:
        - id: ask-medication
          kind: inquiry
          match: ["吃药"]
    examples:
      - name: asks
        trainee: ["您好，您现在在吃药吗？"]
        expect:
          met: [ask-medication]
          revealed: [takes-pills]
"""


def timed(command: list[str], cwd: str, checkout: str | None = None) -> float:
    """Wall-clock milliseconds of one run (with `checkout` on PYTHONPATH, if given); a failing
    command stops the benchmark."""
    env = dict(os.environ)
    if checkout:
        env["PYTHONPATH"] = checkout
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=120, cwd=cwd, env=env
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="Runs of each command.")
    parser.add_argument(
        "--compare",
        metavar="CHECKOUT",
        help="Another checkout (a folder holding sandbox/): each command runs with it and with "
        "the current PYTHONPATH, one after the other, in every round.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        en = Path(folder) / "tiny.yaml"
        en.write_text(TINY_EN, encoding="utf-8")
        zh = Path(folder) / "tiny-zh.yaml"
        zh.write_text(TINY_ZH, encoding="utf-8")
        sandbox = [sys.executable, "-m", "sandbox"]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "sandbox --help": [*sandbox, "--help"],
            "sandbox validate (en, 1 scenario)": [*sandbox, "validate", str(en)],
            "sandbox test (en, 1 scenario)": [*sandbox, "test", str(en)],
            "sandbox validate (zh, 1 scenario)": [*sandbox, "validate", str(zh)],
            "sandbox test (zh, 1 scenario)": [*sandbox, "test", str(zh)],
        }
        checkouts: dict[str, str | None] = {"": None}
        if args.compare:
            checkouts = {"this": None, "compared": args.compare}
        times: dict[str, list[float]] = {}
        for command in commands.values():  # one unmeasured run each: a warm disk cache
            for checkout in checkouts.values():
                timed(command, folder, checkout)
        for _ in range(args.rounds):
            for name, command in commands.items():
                for label, checkout in checkouts.items():
                    key = f"{name} ({label})" if label else name
                    times.setdefault(key, []).append(timed(command, folder, checkout))
    with open("/proc/loadavg", encoding="ascii") as load:
        load_average = load.read().split()[0]
    print(f"| command | min ms | median ms |  ({args.rounds} rounds, load {load_average})")
    print("| --- | ---: | ---: |")
    for name, values in times.items():
        print(f"| {name} | {min(values):.0f} | {statistics.median(values):.0f} |")


if __name__ == "__main__":
    main()
