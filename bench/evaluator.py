"""Grading throughput and pack loading time, on one core.

    python bench/evaluator.py            # full run, prints a Markdown table
    python bench/evaluator.py --quick    # a short run to see that it works

Transcripts have 40 messages (20 from the trainee) and the rubric 15 criteria of every kind,
in English and in Chinese. Each transcript's messages are made distinct (a running number),
so the per-message caches (TextBlob polarity, jieba words) start cold for every transcript;
the "regrade" rows grade the same transcripts again, as a regrade after a pack change does.
Times are CPU seconds of this process (one core), so other work on the machine disturbs the
figures less than wall-clock time would.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandbox.evaluator.grading import grade_compiled
from sandbox.evaluator.transcript import Transcript, TranscriptMessage
from sandbox.scenarios.loader import load_pack_text
from sandbox.text import segmenter, tone

EN_CRITERIA = """
      - {id: greeting, kind: etiquette, match: ["hello", "hi", "good morning", "welcome"], within_first: 1}
      - {id: ask-meds, kind: inquiry, match: ["other medic*", "medication*", "take any", "taking any"], weight: 3, critical: true}
      - {id: ask-allergy, kind: inquiry, match: ["allerg*"]}
      - {id: ask-conditions, kind: inquiry, match: ["health condition*", "medical condition*", "chronic", "blood pressure"]}
      - id: warn
        kind: contraindication
        match: {all: [["pseudoephedrine", "decongestant*"], ["blood pressure", "hypertension"], ["raise*", "not suitable", "avoid", "don't take"]]}
        weight: 4
        critical: true
      - {id: alternative, kind: disclosure, match: ["saline", "nasal spray", "paracetamol", "steam"], weight: 2}
      - {id: dose, kind: disclosure, match: ["every 4 hours", "times a day", "a day", "no more than"], weight: 2}
      - {id: doctor, kind: disclosure, match: {all: [["doctor", "pharmacist"], ["worse*", "persist*", "few days"]]}}
      - {id: closing, kind: etiquette, match: ["take care", "get well", "bye", "anything else"], within_last: 2}
      - {id: tone, kind: etiquette, check: tone}
      - {id: no-shouting, kind: etiquette, check: no_shouting}
      - {id: fast, kind: etiquette, check: response_time, max_s: 90}
      - {id: calm, kind: outcome, mood: calm}
      - {id: no-guarantee, kind: forbidden, match: ["guarantee*", "100% safe", "no side effects", "will cure"], penalty: 15}
      - id: recommends
        kind: forbidden
        match: {all: [["pseudoephedrine", "decongestant*"], ["take", "try", "buy"]], not: ["blood pressure"]}
        penalty: 30
        critical: true
"""
EN_TRAINEE = [
    "Hello, thanks for contacting us, I'm sorry you're unwell (ref {n}).",
    "Before I recommend anything, are you taking any other medication?",
    "Do you have any allergies or a chronic health condition?",
    "Thank you. Decongestants such as pseudoephedrine can raise your blood pressure.",
    "So they are not suitable for you; please avoid them.",
    "A saline nasal spray is a safer choice for the blocked nose.",
    "For the headache paracetamol works well for most people.",
    "Take 500 mg to 1 g every 4 hours, no more than 4 g a day.",
    "Steam inhalation can also help you breathe more easily.",
    "Drink plenty of water and rest as much as you can.",
    "I can't guarantee it will cure the cold, but it should ease it.",
    "Would you like me to add the spray to your order {n}?",
    "It usually arrives within two working days.",
    "If it persists for more than a few days, see your doctor.",
    "Or ask one of our pharmacists if it gets worse.",
    "Is there anything else I can help you with today?",
    "You can also reach us by phone at any time.",
    "Thank you for your patience with all the questions.",
    "I hope the meeting goes well tomorrow.",
    "Take care and get well soon, bye!",
]
ZH_CRITERIA = """
      - {id: greeting, kind: etiquette, match: ["您好", "你好", "欢迎"], within_first: 1}
      - {id: ask-health, kind: inquiry, match: ["怀孕", "哺乳", "身体状况", "健康状况"], weight: 3, critical: true}
      - {id: ask-allergy, kind: inquiry, match: ["过敏"]}
      - {id: ask-meds, kind: inquiry, match: ["用药", "吃药", "服用"]}
      - id: warn
        kind: contraindication
        match: {all: [["哺乳", "喂奶"], ["不能", "不建议", "禁忌", "不适合", "避免"]]}
        weight: 4
        critical: true
      - {id: side-effects, kind: disclosure, match: ["肿胀", "淤青", "头痛", "不良反应"], weight: 2}
      - {id: consult, kind: disclosure, match: ["面诊", "医生评估"], weight: 2}
      - {id: later, kind: disclosure, match: ["断奶以后", "断奶之后", "哺乳期结束"]}
      - {id: closing, kind: etiquette, match: ["再见", "祝您", "欢迎随时"], within_last: 2}
      - {id: tone, kind: etiquette, check: tone}
      - {id: no-shouting, kind: etiquette, check: no_shouting}
      - {id: fast, kind: etiquette, check: response_time, max_s: 90}
      - {id: calm, kind: outcome, mood: calm}
      - {id: no-guarantee, kind: forbidden, match: ["保证效果", "百分百", "零风险", "没有副作用", "无副作用"], penalty: 20, critical: true}
      - {id: pressure, kind: forbidden, match: ["今天不订", "名额有限", "最后一天"], penalty: 10}
"""
ZH_TRAINEE = [
    "您好，欢迎咨询！请问有什么可以帮您？（编号{n}）",
    "在介绍项目之前，想先了解一下您目前的身体状况。",
    "请问您是否怀孕、备孕或在哺乳期？",
    "谢谢您告诉我。哺乳期不能注射肉毒素，建议您断奶以后再考虑。",
    "请问您有没有过敏史？最近有没有服用什么药物？",
    "效果因人而异，我们不能保证效果。",
    "注射后可能出现轻微肿胀、淤青或头痛，一般几天内消退。",
    "断奶以后欢迎您到院面诊，由医生评估后再制定方案。",
    "面诊是免费的，您可以提前预约时间。",
    "如果您有任何疑问，可以随时联系我们。",
    "我们的医生都有执业资质，您可以放心。",
    "价格方面会在面诊时根据方案确定。",
    "您也可以先了解一下其他非注射类的护理项目。",
    "不好意思，让您久等了，我刚才查了一下资料。",
    "这个项目一般需要三到六个月维持。",
    "术后一周内避免剧烈运动和高温环境。",
    "订单{n}已经为您备注好了。",
    "请问还有其他可以帮您的吗？",
    "感谢您的咨询，祝您和宝宝身体健康。",
    "祝您生活愉快，再见！",
]


def pack_yaml(locale: str, scenarios: int, fmt: int = 1) -> str:
    criteria = EN_CRITERIA if locale == "en" else ZH_CRITERIA
    hello = "Hi, I need a cold medicine." if locale == "en" else "你好，我想打瘦脸针。"
    ask = '["medication*", "take any"]' if locale == "en" else '["哺乳", "怀孕"]'
    v2 = f", format: {fmt}" if fmt == 2 else ""
    # A v2 scenario also says what it is about and answers closing lines by topic.
    topic = (
        (
            "\n    topic: [~decongestant, cold medicine]\n    answers: [{when: [~closing], "
            'say: "No, that\'s all."}]'
        )
        if fmt == 2
        else ""
    )
    parts = [
        f"pack: {{id: bench-{locale.lower()}, title: Bench, locale: {locale}{v2}}}\nscenarios:"
    ]
    for i in range(scenarios):
        parts.append(f"""
  - id: s{i}{topic}
    title: Scenario {i}
    brief: A customer writes in.
    persona: {{name: Customer, mood: worried}}
    opening: "{hello}"
    facts:
      - {{id: meds, asked_by: {ask}, reply: "Amlodipine, every morning."}}
      - {{id: allergy, asked_by: ["allerg*", "过敏"], reply: "None."}}
    reactions:
      - {{id: warned, when: ["raise*", "不能"], say: "Oh, I see.", set_mood: calm}}
      - {{id: thanks, when: ["thank*", "谢谢", "感谢"], say: "You're welcome.", times: 0}}
    fallback: ["Sorry?", "And?"]
    nudge: {{after_s: 60, say: "Hello?"}}
    rubric:
      criteria:{criteria}""")
    return "".join(parts)


def transcripts(locale: str, count: int) -> list[Transcript]:
    lines = EN_TRAINEE if locale == "en" else ZH_TRAINEE
    result = []
    for n in range(count):
        messages = []
        for i, line in enumerate(lines):
            at = 15.0 * (i + 1)
            messages.append(TranscriptMessage("persona", "…", at - 15))
            text = line.format(n=n)
            # A distinct message for every transcript, so no cache carries over between them.
            text = f"{text} #{n}-{i}" if locale == "en" else f"{text}（{n}-{i}）"
            messages.append(TranscriptMessage("trainee", text, at))
        result.append(Transcript("bench", "s0", messages))
    return result


def clear_caches() -> None:
    tone.clear_memo()
    segmenter._cut.cache_clear()
    segmenter._cut_domain.cache_clear()


def throughput(locale: str, count: int, fmt: int = 1) -> tuple[float, float]:
    pack = load_pack_text(pack_yaml(locale, 1, fmt), "bench")
    compiled = pack.compiled["s0"]
    items = transcripts(locale, count)
    grade_compiled(pack.id, compiled, items[0])  # load TextBlob's lexicon and jieba's dictionary
    clear_caches()
    gc.collect()
    start = time.process_time()
    for t in items:
        grade_compiled(pack.id, compiled, t)
    cold = count / (time.process_time() - start)
    start = time.process_time()
    for t in items:
        grade_compiled(pack.id, compiled, t)
    warm = count / (time.process_time() - start)
    return cold, warm


def load_time(scenarios: int, repeats: int, fmt: int = 1) -> tuple[float, int]:
    text = pack_yaml("en", scenarios, fmt)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        load_pack_text(text, "bench")
        times.append(time.process_time() - start)
    return statistics.median(times), len(text.encode())


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    n = 100 if args.quick else 2000
    from load import calibration_ms  # the same yardstick as the chat benchmark

    before = calibration_ms()
    print(f"Machine: {machine()}")
    print(f"Calibration loop before: {before:.0f} ms (60 to 90 on an idle core)\n")
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    for fmt in (1, 2):
        for locale, target in (("en", 1000), ("zh-CN", 300)):
            cold, warm = throughput(locale, n, fmt)
            print(
                f"| grading, v{fmt}, {locale}, new transcripts | {cold:,.0f} transcripts/s "
                f"| ≥ {target:,}/s |"
            )
            print(
                f"| grading, v{fmt}, {locale}, regrade (same messages) | {warm:,.0f} "
                "transcripts/s | |"
            )
    for fmt in (1, 2):
        seconds, size = load_time(100, 3 if args.quick else 9, fmt)
        print(
            f"| load a v{fmt} pack of 100 scenarios ({size / 1024:,.0f} KiB) | "
            f"{seconds * 1000:,.0f} ms | < 500 ms |"
        )
    print(f"\nCalibration loop after: {calibration_ms():.0f} ms")


if __name__ == "__main__":
    main()
