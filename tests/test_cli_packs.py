"""The pack author's commands (`sandbox validate`, `test`, `grade`, `play`, `packs`) through
the console script's entry point, against the reference packs and small packs written here,
and every kind of bad input the format names: exit code 2, a message that says which file and
line, and never a traceback.

They run in this process (Click's runner gives them their own argv, stdin, stdout and
stderr), which spares a Python start-up of a few seconds each; the installed console script
itself is run as a real process once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_support import run_in_process

from sandbox.evaluator.grading import grade
from sandbox.evaluator.transcript import parse_transcript
from sandbox.scenarios.loader import load_pack, load_packs

ROOT = Path(__file__).resolve().parents[1]
SHARED_PACKS = ROOT.parent / "shared" / "packs"
INSTALLED = Path(sys.executable).parent / "sandbox"  # the console script of the venv


def run(
    *args: Any, stdin: str | None = None, cwd: Path | None = None, command: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `sandbox ARGS...` as a user would: through `main`, the console script's entry point
    (its exit code, its "internal error" for a bug), in this process; with `command`, that
    command as a real process (the timeout only guards against a hang)."""
    argv = [str(arg) for arg in args]
    if command is not None:
        env = {k: v for k, v in os.environ.items() if k != "SANDBOX_DEBUG"}
        return subprocess.run(
            [*command, *argv],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=cwd or ROOT,
            env=env,
            timeout=300,
        )
    return run_in_process(argv, stdin=stdin, cwd=cwd or ROOT)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit code 2, each fragment in the output, no traceback, no internal error."""
    text = output(result)
    assert result.returncode == 2, text
    assert "Traceback" not in text
    assert "internal error" not in text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    return text


def problem_lines(result: subprocess.CompletedProcess[str], name: str) -> list[str]:
    return [line for line in output(result).splitlines() if line.startswith(name + ":")]


# --- a small pack to break in every way ---------------------------------------------------

PACK = """\
# A small pack for the CLI tests.
pack:
  id: tiny
  title: Tiny pack
  locale: en
scenarios:
  - id: cold
    title: A customer with a cold
    brief: A customer has a cold and wants something for it.
    time_limit_s: 600
    persona:
      name: Ann
      mood: worried
    opening: "Hi, I have a cold. What should I take?"
    facts:
      - id: takes-pills
        asked_by: ["medication*"]
        reply: "I take pills for my blood pressure."
    reactions:
      - id: calms
        when: ["saline"]
        say: "Saline, fine, I'll try that."
        set_mood: calm
    fallback: "Sorry?"
    ends_when: ["goodbye"]
    farewell: "Bye then."
    rubric:
      criteria:
        - id: ask-medication
          kind: inquiry
          match: ["medication*"]
          weight: 2
        - id: greeting
          kind: etiquette
          match: ["hello"]
          within_first: 1
        - id: calmed
          kind: outcome
          mood: calm
        - id: no-guarantee
          kind: forbidden
          match: ["guarantee*"]
    examples:
      - name: asks and calms
        trainee: ["Hello, do you take any medication?", "Try saline."]
        expect:
          passed: true
          met: [ask-medication, greeting, calmed]
          violated: []
          revealed: [takes-pills]
          mood: calm
          persona_says: ["blood pressure", "Saline"]
"""


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line that contains `fragment`."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(found) >= occurrence, f"{fragment!r} is not in the pack"
    return found[occurrence - 1]


def changed(old: str, new: str, text: str = PACK) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(PACK, "utf-8")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def transcript(messages: list[dict[str, Any]], pack: str = "tiny", scenario: str = "cold") -> str:
    return json.dumps({"pack": pack, "scenario": scenario, "messages": messages}, indent=2)


# --- sandbox test -------------------------------------------------------------------------


def shared_pack_files() -> list[Path]:
    files = sorted(SHARED_PACKS.glob("*.yaml"))
    assert files, f"no reference packs in {SHARED_PACKS}"
    return files


def test_sandbox_test_passes_the_reference_packs():
    files = shared_pack_files()
    examples = sum(len(s.examples) for f in files for s in load_pack(f).scenarios)
    result = run("test", *files)
    assert result.returncode == 0, output(result)
    assert "FAIL" not in output(result)
    assert result.stdout.splitlines()[-1] == f"{examples} passed, 0 failed"


def test_the_installed_console_script_runs_the_same_command():
    assert INSTALLED.is_file()
    result = run("test", *shared_pack_files(), command=[str(INSTALLED)])
    assert result.returncode == 0, output(result)
    assert result.stdout.rstrip().endswith(" passed, 0 failed")


def test_sandbox_test_passes_a_pack_whose_examples_hold(tiny):
    result = run("test", tiny)
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == "1 passed, 0 failed"


def test_sandbox_test_reports_each_failing_expectation_and_exits_1(tmp_path):
    text = changed(
        "          mood: calm\n          persona_says",
        "          mood: angry\n          score_max: 50\n          persona_says",
    )
    text = changed(
        "          met: [ask-medication, greeting, calmed]",
        "          met: [ask-medication, greeting, calmed]\n          missed: [no-guarantee]",
        text,
    )
    path = write(tmp_path, "wrong.yaml", text)
    result = run("test", path)
    assert result.returncode == 1, output(result)
    assert "Traceback" not in output(result)
    lines = result.stdout.splitlines()
    # pack, scenario and example named once, then each expectation: expected vs actual
    assert "FAIL tiny/cold › 'asks and calms'" in lines
    assert "  mood: expected angry, got calm" in lines
    assert "  missed: no-guarantee: expected missed, got clear" in lines
    assert "  score_max: expected <= 50, got 100.0" in lines
    assert lines[-1] == "0 passed, 1 failed"


def test_sandbox_test_of_an_invalid_pack_exits_2_and_still_runs_the_others(tmp_path, tiny):
    bad = write(tmp_path, "bad.yaml", changed("  locale: en", "  locale: fr"))
    result = run("test", bad, tiny)
    text = assert_refused(result, f"{bad}:{line_of(PACK, 'locale: en')}:")
    assert "1 passed, 0 failed; 1 pack file invalid" in text


# --- sandbox validate ---------------------------------------------------------------------


def test_sandbox_validate_prints_a_one_line_summary(tiny):
    result = run("validate", tiny)
    assert result.returncode == 0, output(result)
    assert result.stdout.splitlines() == ["1 pack, 1 scenario, 1 example: valid"]
    assert result.stderr == ""


def test_sandbox_validate_of_the_reference_packs(tmp_path):
    files = shared_pack_files()
    packs = [load_pack(f) for f in files]
    scenarios = sum(len(p.scenarios) for p in packs)
    examples = sum(len(s.examples) for p in packs for s in p.scenarios)
    result = run("validate", *files)
    assert result.returncode == 0, output(result)
    (summary,) = result.stdout.splitlines()
    numbers = [int(n) for n in re.findall(r"\d+", summary)]
    assert numbers == [len(packs), scenarios, examples]
    assert summary.endswith(": valid")


def test_sandbox_validate_takes_a_folder(tmp_path, tiny):
    result = run("validate", tmp_path)
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == "1 pack, 1 scenario, 1 example: valid"


# --- sandbox grade ------------------------------------------------------------------------

MESSAGES = [
    {"role": "persona", "text": "Hi, I have a cold. What should I take?", "at": 0},
    {"role": "trainee", "text": "Hello, do you take any medication?", "at": 12},
    {"role": "persona", "text": "I take pills for my blood pressure.", "at": 12},
    {"role": "trainee", "text": "I guarantee saline will work.", "at": 30},
    {"role": "persona", "text": "Saline, fine, I'll try that.", "at": 30},
    {"role": "trainee", "text": "Goodbye.", "at": 40},
    {"role": "persona", "text": "Bye then.", "at": 40},
    {"role": "trainee", "text": "I guarantee it, really.", "at": 50},
]


@pytest.fixture
def graded_transcript(tmp_path: Path) -> Path:
    return write(tmp_path, "t.json", transcript(MESSAGES))


def test_sandbox_grade_prints_a_table_with_the_evidence(tiny, graded_transcript):
    result = run("grade", tiny, graded_transcript, "--table")
    assert result.returncode == 0, output(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "tiny/cold"
    assert lines[1] == "Score 90.0 (excellent), passed"
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:9]}
    assert rows["ask-medication"] == ["inquiry", "met", "2"]
    assert rows["greeting"] == ["etiquette", "met", "1"]
    assert rows["calmed"] == ["outcome", "met", "1"]
    assert rows["no-guarantee"] == ["forbidden", "violated", "-10"]
    assert "  ask-medication: message 1: Hello, do you take any medication?" in lines
    assert "  no-guarantee: message 3: I guarantee saline will work." in lines
    assert "Ignored messages (refused by the engine): 7" in lines


def test_sandbox_grade_prints_the_section_6_json_by_default(tiny, graded_transcript):
    # Section 6: "A grade (JSON), as `sandbox grade PACK.yaml TRANSCRIPT.json` prints it".
    plain = run("grade", tiny, graded_transcript)
    assert plain.returncode == 0, output(plain)
    flagged = run("grade", tiny, graded_transcript, "--json")
    assert json.loads(plain.stdout) == json.loads(flagged.stdout)
    assert json.loads(plain.stdout)["score"] == 90.0
    both = run("grade", tiny, graded_transcript, "--json", "--table")
    assert both.returncode == 2 and "choose one" in both.stderr


def test_sandbox_grade_json_is_exactly_section_6(tiny, graded_transcript):
    result = run("grade", tiny, graded_transcript, "--json")
    assert result.returncode == 0, output(result)
    data = json.loads(result.stdout)
    assert data == {
        "scenario": "tiny/cold",
        "score": 90.0,
        "band": "excellent",
        "passed": True,
        "criteria": [
            {
                "id": "ask-medication",
                "kind": "inquiry",
                "status": "met",
                "weight": 2,
                "evidence": [{"message": 1, "text": "Hello, do you take any medication?"}],
            },
            {
                "id": "greeting",
                "kind": "etiquette",
                "status": "met",
                "weight": 1,
                "evidence": [{"message": 1, "text": "Hello, do you take any medication?"}],
            },
            {"id": "calmed", "kind": "outcome", "status": "met", "weight": 1, "evidence": []},
            {
                "id": "no-guarantee",
                "kind": "forbidden",
                "status": "violated",
                "penalty": 10,
                "evidence": [{"message": 3, "text": "I guarantee saline will work."}],
            },
        ],
        "critical_missed": [],
        "critical_violated": [],
        "ignored_messages": [7],
    }
    assert list(data) == [
        "scenario",
        "score",
        "band",
        "passed",
        "criteria",
        "critical_missed",
        "critical_violated",
        "ignored_messages",
    ]
    # the same grade as the library's
    library = grade(
        load_pack(tiny), "cold", parse_transcript(graded_transcript.read_text("utf-8"))
    ).to_json()
    assert data == library


def test_sandbox_grade_of_a_reference_example_transcript(tmp_path):
    pack_file = SHARED_PACKS / "aesthetics-consult-zh.yaml"
    messages = [
        {"role": "persona", "text": "你好", "at": 0},
        {"role": "trainee", "text": "您好，请问您在哺乳期吗？", "at": 10},
        {"role": "trainee", "text": "我们保证效果。", "at": 20},
    ]
    path = write(
        tmp_path, "zh.json", transcript(messages, "aesthetics-consult-zh", "botox-breastfeeding")
    )
    result = run("grade", pack_file, path, "--json")
    assert result.returncode == 0, output(result)
    data = json.loads(result.stdout)
    statuses = {c["id"]: c["status"] for c in data["criteria"]}
    assert statuses["ask-health"] == "met"
    assert statuses["no-guarantee"] == "violated"
    assert data["critical_violated"] == ["no-guarantee"]
    assert data["passed"] is False
    assert "保证效果" in result.stdout  # non-ASCII text is written as it is


def test_sandbox_grade_scenario_option_picks_the_scenario(tmp_path):
    pack_file = SHARED_PACKS / "pharmacy-basics.yaml"
    messages = [{"role": "trainee", "text": "I'm sorry, which order number is it?", "at": 5}]
    path = write(tmp_path, "t.json", json.dumps({"messages": messages}))
    result = run("grade", pack_file, path, "--json", "--scenario", "late-insulin-delivery")
    assert result.returncode == 0, output(result)
    data = json.loads(result.stdout)
    assert data["scenario"] == "pharmacy-basics/late-insulin-delivery"
    statuses = {c["id"]: c["status"] for c in data["criteria"]}
    assert statuses["confirm-order"] == "met" and statuses["apology"] == "met"


# --- sandbox packs ------------------------------------------------------------------------


def test_sandbox_packs_lists_every_scenario():
    loaded = load_packs([SHARED_PACKS])
    result = run("packs", SHARED_PACKS)
    assert result.returncode == 0, output(result)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["scenario", "trade", "locale", "difficulty", "criteria", "title"]
    listed = {line.split()[0]: line.split()[1:5] for line in lines[2:]}
    expected = {
        f"{p.id}/{s.id}": [p.locale, s.difficulty, str(len(s.rubric.criteria))]
        for p in loaded.packs
        for s in p.scenarios
    }
    assert set(listed) == set(expected)
    for scenario_id, (_trade, locale, difficulty, criteria) in listed.items():
        assert [locale, difficulty, criteria] == expected[scenario_id]


def test_sandbox_packs_markdown(tiny):
    result = run("packs", "--markdown", tiny)
    assert result.returncode == 0, output(result)
    assert "| `tiny/cold` |" in result.stdout
    assert "A customer with a cold" in result.stdout


def test_sandbox_packs_reports_a_broken_pack_and_lists_the_rest(tmp_path, tiny):
    bad = write(tmp_path, "bad.yaml", changed("  id: tiny", "  id: other\n  oops: 1"))
    result = run("packs", tmp_path)
    text = assert_refused(result, f"{bad}:{line_of(PACK, 'id: tiny') + 1}:")
    assert "tiny/cold" in result.stdout
    assert "other/" not in text.replace(str(bad), "")


# --- sandbox play -------------------------------------------------------------------------


def test_sandbox_play_then_grade_the_saved_transcript(tmp_path, tiny):
    saved = tmp_path / "played.json"
    said = "Hello, do you take any medication?\n\n   \nI guarantee saline works\nGoodbye\n"
    result = run("play", tiny, "--scenario", "cold", "--save", saved, stdin=said)
    assert result.returncode == 0, output(result)
    out = result.stdout
    assert "Ann: Hi, I have a cold. What should I take?" in out
    assert "Ann: I take pills for my blood pressure." in out
    assert "(An empty message is not sent.)" in out
    assert "Ann: Bye then." in out
    assert f"Transcript saved to {saved}" in out

    data = json.loads(saved.read_text("utf-8"))
    assert data["pack"] == "tiny" and data["scenario"] == "cold"
    trainee = [m["text"] for m in data["messages"] if m["role"] == "trainee"]
    assert trainee == ["Hello, do you take any medication?", "I guarantee saline works", "Goodbye"]

    # The grade printed at the end of play is the grade of the saved transcript.
    printed = out[out.index("\ntiny/cold\n") + 1 : out.index("\n\nTranscript saved")]
    table = run("grade", tiny, saved, "--table")
    assert table.returncode == 0, output(table)
    assert table.stdout.rstrip("\n") == printed

    graded = run("grade", tiny, saved, "--json")
    assert graded.returncode == 0, output(graded)
    grade_json = json.loads(graded.stdout)
    score_line = re.search(r"^Score (\S+) \((\w+)\), (passed|not passed)$", printed, re.M)
    assert score_line is not None
    assert float(score_line[1]) == grade_json["score"] == 90.0
    assert score_line[2] == grade_json["band"]
    assert (score_line[3] == "passed") == grade_json["passed"]
    for c in grade_json["criteria"]:
        assert re.search(
            rf"^{re.escape(c['id'])}\s+{c['kind']}\s+{c['status']}\s", printed, re.M
        ), c
        for e in c["evidence"]:
            assert f"  {c['id']}: message {e['message']}: {e['text']}" in printed
            assert data["messages"][e["message"]]["text"] == e["text"]
    assert {c["id"]: c["status"] for c in grade_json["criteria"]} == {
        "ask-medication": "met",
        "greeting": "met",
        "calmed": "met",
        "no-guarantee": "violated",
    }


def test_sandbox_play_ends_at_end_of_input(tmp_path, tiny):
    saved = tmp_path / "p.json"
    result = run(
        "play", tiny, "--scenario", "tiny/cold", "--save", saved, stdin="Any medication?\n"
    )
    assert result.returncode == 0, output(result)
    data = json.loads(saved.read_text("utf-8"))
    assert data["end_reason"] == "finished"
    assert "Score " in result.stdout


# --- bad packs: exit 2, file and line, no traceback ---------------------------------------


def validate_text(tmp_path: Path, text: str, name: str = "bad.yaml") -> tuple[Path, str]:
    path = write(tmp_path, name, text)
    result = run("validate", path)
    return path, assert_refused(result)


# (old, new, where: the fragment of the new text's line it is reported on, or that fragment
# and which occurrence of it; what the message must say)
BAD_PACKS: dict[str, tuple[str, str, str | tuple[str, int], list[str]]] = {
    "yaml syntax error": (
        "  title: Tiny pack",
        "  title: [Tiny pack",
        "locale: en",
        ["YAML syntax error", f"starts at line {line_of(PACK, 'title: Tiny pack')}"],
    ),
    "unknown key with a suggestion": (
        "      mood: worried",
        "      mod: worried",
        "mod: worried",
        ["unknown key 'mod'", "did you mean 'mood'?"],
    ),
    "unknown criterion key with a suggestion": (
        "          within_first: 1",
        "          within_frist: 1",
        "within_frist",
        ["unknown key 'within_frist'", "did you mean 'within_first'?"],
    ),
    "wrong type": (
        "          weight: 2",
        '          weight: "two"',
        "weight:",
        ["criterion 'ask-medication'", "weight", "expected a number, got a string"],
    ),
    "an infinite weight": (
        "          weight: 2",
        "          weight: .inf",
        "weight:",
        ["criterion 'ask-medication'", "weight", "finite number"],
    ),
    "wrong type: an unquoted no": (
        '    fallback: "Sorry?"',
        "    fallback: no",
        "fallback:",
        ["fallback", "got a boolean", "quote"],
    ),
    "number out of range": (
        "    time_limit_s: 600",
        "    time_limit_s: 0",
        "time_limit_s",
        ["time_limit_s", "greater than 0", "got 0"],
    ),
    "missing required key": (
        '    opening: "Hi, I have a cold. What should I take?"\n',
        "",
        "- id: cold",
        ["scenario 'cold'", "missing required key 'opening'"],
    ),
    "duplicate id shared by facts and reactions": (
        "      - id: calms",
        "      - id: takes-pills",
        ("- id: takes-pills", 2),
        ["duplicate id 'takes-pills'", "facts and reactions share one set of ids"],
    ),
    "duplicate criterion id": (
        "        - id: greeting",
        "        - id: ask-medication",
        ("- id: ask-medication", 2),
        ["duplicate criterion id 'ask-medication'"],
    ),
    "duplicate yaml key": (
        "    title: A customer with a cold",
        "    title: A customer with a cold\n    brief: Again.",
        "brief: A customer has",
        ["duplicate key 'brief'", f"first at line {line_of(PACK, 'brief:')}"],
    ),
    "reference to a missing fact in reveals": (
        "        set_mood: calm",
        "        set_mood: calm\n        reveals: [take-pills]",
        "reveals: [take-pills]",
        ["'take-pills' is not the id of any fact", "did you mean 'takes-pills'?"],
    ),
    "reference to a missing step in requires": (
        '        reply: "I take pills for my blood pressure."',
        '        reply: "I take pills for my blood pressure."\n        requires: [asked]',
        "requires: [asked]",
        ["requires", "'asked' is not the id of any fact or reaction"],
    ),
    "reference to a missing fact in applies_if_revealed": (
        "          weight: 2",
        "          weight: 2\n          applies_if_revealed: pills",
        "applies_if_revealed: pills",
        ["'pills' is not the id of any fact"],
    ),
    "reference to a missing criterion in an example": (
        "          violated: []",
        "          violated: [no-guarantees]",
        "violated: [no-guarantees]",
        ["'no-guarantees' is not the id of any criterion", "did you mean 'no-guarantee'?"],
    ),
    "reference to a missing fact in an outcome": (
        "          mood: calm\n        - id: no-guarantee",
        "          revealed: no-such-fact\n        - id: no-guarantee",
        "revealed: no-such-fact",
        ["'no-such-fact' is not the id of any fact"],
    ),
    "inquiry without match": (
        '          kind: inquiry\n          match: ["medication*"]\n',
        "          kind: inquiry\n",
        "- id: ask-medication",
        ["criterion 'ask-medication'", "needs 'match'"],
    ),
    "etiquette with neither match nor check": (
        '          match: ["hello"]\n',
        "",
        "- id: greeting",
        ["criterion 'greeting'", "etiquette criterion needs 'match'", "or 'check'"],
    ),
    "etiquette with both match and check": (
        '          match: ["hello"]\n',
        '          match: ["hello"]\n          check: tone\n',
        "check: tone",
        ["criterion 'greeting'", "'match' or 'check', not both"],
    ),
    "outcome with neither mood nor revealed": (
        "          mood: calm\n        - id: no-guarantee",
        "        - id: no-guarantee",
        "- id: calmed",
        ["criterion 'calmed'", "outcome criterion needs 'mood", "'revealed"],
    ),
    "outcome with both mood and revealed": (
        "          mood: calm\n        - id: no-guarantee",
        "          mood: calm\n          revealed: takes-pills\n        - id: no-guarantee",
        "revealed: takes-pills",
        ["criterion 'calmed'", "'mood' or 'revealed', not both"],
    ),
    "weight on forbidden": (
        '          match: ["guarantee*"]',
        '          match: ["guarantee*"]\n          weight: 3',
        "weight: 3",
        ["criterion 'no-guarantee'", "'penalty', not a 'weight'"],
    ),
    "penalty on a required kind": (
        "          weight: 2",
        "          penalty: 2",
        "penalty: 2",
        ["criterion 'ask-medication'", "'penalty' belongs to forbidden criteria"],
    ),
    "misplaced star in an en phrase": (
        '        when: ["saline"]',
        '        when: ["sal*ine"]',
        "sal*ine",
        ["reaction 'calms'", "'*' may stand only at the end", "sal*ine"],
    ),
    "misplaced star in a criterion's all group": (
        '          match: ["guarantee*"]',
        '          match: {all: [["guaran*tee"]]}',
        "guaran*tee",
        ["criterion 'no-guarantee'", "'*' may stand only at the end"],
    ),
    "a star alone": (
        '        when: ["saline"]',
        '        when: ["saline", "*"]',
        'when: ["saline", "*"]',
        ["'*'"],
    ),
    "a not-only matcher": (
        '        when: ["saline"]',
        '        when: {not: ["saline"]}',
        "when: {not:",
        ["reaction 'calms'", "needs 'any' or 'all'"],
    ),
    "unsupported locale": (
        "  locale: en",
        "  locale: fr",
        "locale: fr",
        ["locale", "'fr' is not allowed", "'en' or 'zh-CN'"],
    ),
    "python object tag": (
        "      name: Ann",
        "      name: !!python/object/apply:os.system ['echo pwned']",
        "name: !!python",
        ["python/object/apply:os.system", "not allowed"],
    ),
    "a date where a string belongs": (
        "    title: A customer with a cold",
        "    title: 2024-01-01",
        "title: 2024-01-01",
        ["2024-01-01", "quote it"],
    ),
}


def _line_for(text: str, where: str | tuple[str, int]) -> int:
    fragment, occurrence = (where, 1) if isinstance(where, str) else where
    return line_of(text, fragment, occurrence)


@pytest.mark.parametrize("case", list(BAD_PACKS), ids=list(BAD_PACKS))
def test_a_bad_pack_is_refused_with_file_line_and_message(tmp_path, case):
    old, new, where, says = BAD_PACKS[case]
    text = changed(old, new)
    path, out = validate_text(tmp_path, text)
    line = _line_for(text, where)
    assert f"{path}:{line}: " in out, out
    for fragment in says:
        assert fragment in out, f"{fragment!r} not in {out!r}"
    assert "problem" in out and "in 1 file" in out


def test_a_key_written_after_a_merge_overrides_the_merged_one(tmp_path):
    # YAML's merge key: as PyYAML's safe_load reads it, a key of the mapping itself wins
    # over the same key merged in, before or after the '<<'.
    text = PACK.replace(
        "    persona:\n      name: Ann\n      mood: worried",
        "    persona:\n      <<: {name: Ann, mood: worried}\n      name: Sam",
    )
    assert text != PACK
    path = write(tmp_path, "merged.yaml", text)
    result = run("validate", path)
    assert result.returncode == 0 and "valid" in result.stdout, output(result)
    pack = load_pack(path)
    assert pack.scenarios[0].persona.name == "Sam"
    assert pack.scenarios[0].persona.mood == "worried"


def test_duplicate_scenario_id(tmp_path):
    scenario = PACK[PACK.index("  - id: cold") :]
    text = PACK + scenario
    path, out = validate_text(tmp_path, text)
    assert f"{path}:{line_of(text, '- id: cold', 2)}: " in out
    assert "duplicate scenario id 'cold'" in out


def test_duplicate_pack_id_across_files(tmp_path, tiny):
    again = write(tmp_path, "zz-again.yaml", PACK)
    result = run("validate", tiny, again)
    assert_refused(
        result,
        f"{again}:{line_of(PACK, 'id: tiny')}: ",
        f"pack id 'tiny' is already used by {tiny}",
    )


def test_an_alias_bomb_is_refused(tmp_path):
    # "billion laughs": nine levels of nine aliases; expanded it would be 9**9 strings.
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    path, out = validate_text(tmp_path, "\n".join(levels) + "\n")
    assert re.search(rf"{re.escape(str(path))}:\d+: anchors and aliases expand past", out), out


def test_an_alias_bomb_inside_a_real_pack_is_refused(tmp_path):
    bomb = 'x-lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
        f"x-{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 8) + "]\n" for i in range(1, 9)
    )
    path, out = validate_text(tmp_path, bomb + PACK)
    assert f"{path}:" in out and "aliases" in out


def test_a_file_over_1_mib_is_refused(tmp_path):
    text = PACK + "# " + "x" * (1024 * 1024) + "\n"
    path, out = validate_text(tmp_path, text)
    assert f"{path}: " in out
    assert "at most 1,048,576" in out


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path):
    raw = changed("  title: Tiny pack", "  title: Tiny pack café").encode("latin-1")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(raw)
    out = assert_refused(
        run("validate", path), f"{path}:{line_of(PACK, 'title: Tiny pack')}: ", "not UTF-8"
    )
    assert "0xe9" in out


def test_a_missing_file_is_refused(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    assert_refused(run("validate", missing), f"{missing}: no such file or folder")
    assert_refused(run("test", missing), f"{missing}: no such file or folder")
    assert_refused(run("grade", missing, missing), f"{missing}")
    assert_refused(run("play", missing, "--scenario", "cold"), f"{missing}")


def test_every_problem_in_a_file_is_reported(tmp_path):
    text = changed("          weight: 2", '          weight: "two"')
    text = changed("  locale: en", "  locale: fr", text)
    path = write(tmp_path, "two.yaml", text)
    result = run("validate", path)
    assert_refused(result, "2 problems in 1 file")
    lines = problem_lines(result, str(path))
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{path}:{line_of(text, 'locale: fr')}: ")
    assert lines[1].startswith(f"{path}:{line_of(text, 'weight:')}: ")


def test_several_files_at_once(tmp_path, tiny):
    one = write(tmp_path, "one.yaml", changed("  locale: en", "  locale: fr"))
    two = write(tmp_path, "two.yaml", changed('    fallback: "Sorry?"\n', ""))
    result = run("validate", one, tiny, two)
    assert_refused(result, "2 problems in 2 files")
    assert len(problem_lines(result, str(one))) == 1
    assert problem_lines(result, str(two)) == [
        f"{two}:{line_of(PACK, '- id: cold')}: scenario 'cold': missing required key 'fallback'"
    ]
    assert not problem_lines(result, str(tiny))


@pytest.mark.parametrize("command", ["test", "grade", "play", "packs"])
def test_every_command_refuses_a_bad_pack(tmp_path, command, graded_transcript):
    bad = write(tmp_path, "bad.yaml", changed("  locale: en", "  locale: fr"))
    args = {
        "test": [bad],
        "grade": [bad, graded_transcript],
        "play": [bad, "--scenario", "cold"],
        "packs": [bad],
    }[command]
    assert_refused(run(command, *args), f"{bad}:{line_of(PACK, 'locale: en')}: ", "'fr'")


# --- files that are not packs, and links out of a pack folder ------------------------------

# Text of files that are not packs: nothing of it may ever appear in a message.
SECRET_WORDS = ("db_password", "hunter2", "s3cr3t-token")
NOT_PACKS = {
    "a config mapping": "db_password: hunter2\napi: s3cr3t-token\n",
    "a tag": "db_password: !vault hunter2\n",
    "a date": "hunter2: 2024-01-01\n",
    "a duplicate key": "hunter2: 1\nhunter2: 2\n",
    "a number as a key": "1: hunter2\ns3cr3t-token: x\n",
    "a list": "- db_password\n- hunter2\n",
    "plain text": "root:x:0:0:hunter2:/root:/bin/bash\n",
    "a syntax error": "db_password: hunter2\n  s3cr3t-token: [\n",
}


@pytest.mark.parametrize("case", list(NOT_PACKS), ids=list(NOT_PACKS))
def test_a_file_that_is_not_a_pack_is_never_quoted(tmp_path, case):
    path = write(tmp_path, "settings.yaml", NOT_PACKS[case])
    out = assert_refused(run("validate", path), f"{path}:")
    for word in SECRET_WORDS:
        assert word not in out, out
    if case != "a syntax error":
        assert "not a pack" in out and "nothing of this file is shown" in out


def test_a_link_out_of_a_pack_folder_is_skipped_and_its_target_never_shown(tmp_path):
    folder = tmp_path / "packs"
    (folder / "more").mkdir(parents=True)
    write(folder, "tiny.yaml", PACK)
    write(folder / "more", "other.yaml", PACK.replace("  id: tiny", "  id: other"))
    elsewhere = write(tmp_path, "secrets.yaml", NOT_PACKS["a config mapping"])
    valid_elsewhere = write(tmp_path, "outside.yaml", PACK.replace("  id: tiny", "  id: outside"))
    (folder / "secrets.yaml").symlink_to(elsewhere)
    (folder / "outside.yaml").symlink_to(valid_elsewhere)  # a valid pack, but not the folder's
    (folder / "gone.yaml").symlink_to(tmp_path / "nothing-here.yaml")
    (folder / "inside.yaml").symlink_to(folder / "more" / "other.yaml")  # stays inside: read
    for command in ("validate", "test", "packs"):
        out = assert_refused(run(command, folder))
        for word in SECRET_WORDS:
            assert word not in out, out
        for name in ("secrets.yaml", "outside.yaml"):
            assert (
                f"{folder / name}: a symbolic link that leads out of the pack folder; skipped"
            ) in out, out
        assert f"{folder / 'gone.yaml'}: a symbolic link to nothing" in out
        assert "inside.yaml" not in out  # a link within the folder is an ordinary pack
    listed = run("packs", folder).stdout
    assert "tiny/cold" in listed and "other/cold" in listed and "outside/" not in listed


def test_the_web_library_skips_links_out_of_its_pack_folders(tmp_path):
    from web_support import make_settings

    from sandbox.scenarios.library import load_library

    folder = tmp_path / "packs"
    folder.mkdir()
    write(folder, "tiny.yaml", PACK)
    (folder / "secrets.yaml").symlink_to(write(tmp_path, "s.yaml", NOT_PACKS["a tag"]))
    library = load_library(make_settings(tmp_path, packs=str(folder)))
    assert list(library.packs) == ["tiny"]
    assert library.errors == [
        f"{folder / 'secrets.yaml'}: a symbolic link that leads out of the pack folder; "
        "skipped (copy the pack into the folder instead)"
    ]


# --- bad transcripts for sandbox grade ----------------------------------------------------

GOOD_MESSAGE = {"role": "trainee", "text": "Hello", "at": 5}

BAD_TRANSCRIPTS: dict[str, tuple[str, list[str]]] = {
    "not JSON": (
        '{"pack": "tiny", "scenario": "cold", "messages": [\n'
        '  {"role": "trainee", "text": "Hello", "at": 5},\n'
        "  {role: trainee}\n"
        "]}\n",
        [":3: ", "not valid JSON"],
    ),
    "wrong role": (
        transcript([GOOD_MESSAGE, {"role": "customer", "text": "Hi", "at": 6}]),
        ["messages[1].role", "'persona' or 'trainee'", "'customer'"],
    ),
    "missing at": (
        transcript([{"role": "trainee", "text": "Hello"}]),
        ["messages[0]", "missing 'at'"],
    ),
    "negative at": (
        transcript([{"role": "trainee", "text": "Hello", "at": -3}]),
        ["messages[0].at", "must not be negative", "-3"],
    ),
    "at not a number": (
        transcript([{"role": "trainee", "text": "Hello", "at": "soon"}]),
        ["messages[0].at", "number of seconds", "'soon'"],
    ),
    "text not a string": (
        transcript([{"role": "trainee", "text": 42, "at": 1}]),
        ["messages[0].text", "must be a string"],
    ),
    "trainee going back in time": (
        transcript([GOOD_MESSAGE, {"role": "trainee", "text": "Hi", "at": 2}]),
        ["messages[1].at", "back in time"],
    ),
    "not an object": (json.dumps([GOOD_MESSAGE]), ["a transcript is a JSON object"]),
    "a message that is not an object": (
        transcript(["Hello"]),  # type: ignore[list-item]
        ["messages[0]", "a message is an object"],
    ),
    "messages not a list": (
        json.dumps({"pack": "tiny", "scenario": "cold", "messages": "Hello"}),
        ["'messages' must be a list"],
    ),
    "empty file": ("", ["not valid JSON"]),
}


@pytest.mark.parametrize("case", list(BAD_TRANSCRIPTS), ids=list(BAD_TRANSCRIPTS))
def test_a_malformed_transcript_is_refused(tmp_path, tiny, case):
    text, says = BAD_TRANSCRIPTS[case]
    path = write(tmp_path, "bad.json", text)
    out = assert_refused(run("grade", tiny, path), f"{path}")
    for fragment in says:
        assert fragment in out, f"{fragment!r} not in {out!r}"
    if case == "wrong role":
        assert_refused(run("grade", tiny, path, "--json"), "messages[1].role")


def test_a_persona_line_without_a_time_is_accepted(tmp_path, tiny, graded_transcript):
    # Section 6: the evaluator trusts only the trainee's messages and their times.
    data = json.loads(graded_transcript.read_text(encoding="utf-8"))
    for message in data["messages"]:
        if message["role"] == "persona":
            del message["at"]
    path = write(tmp_path, "untimed.json", json.dumps(data))
    plain = run("grade", tiny, path)
    assert plain.returncode == 0, output(plain)
    assert json.loads(plain.stdout) == json.loads(run("grade", tiny, graded_transcript).stdout)


def test_a_transcript_that_is_not_utf8_is_refused(tmp_path, tiny):
    path = tmp_path / "latin1.json"
    text = '{"pack": "tiny", "scenario": "cold",\n "messages": [{"role": "trainee", "text": "café", "at": 1}]}'
    path.write_bytes(text.encode("latin-1"))
    assert_refused(run("grade", tiny, path), f"{path}:2: ", "not UTF-8", "0xe9")


def test_a_missing_transcript_is_refused(tmp_path, tiny):
    missing = tmp_path / "none.json"
    assert_refused(run("grade", tiny, missing), f"{missing}", "cannot read")


def test_a_transcript_for_another_pack_is_refused(tmp_path, tiny):
    path = write(tmp_path, "other.json", transcript([GOOD_MESSAGE], pack="pharmacy-basics"))
    assert_refused(run("grade", tiny, path), f"{path}", "'pharmacy-basics'", "'tiny'")


def test_an_unknown_scenario_is_refused(tmp_path, tiny, graded_transcript):
    out = assert_refused(run("grade", tiny, graded_transcript, "--scenario", "flu"), "'flu'")
    assert "tiny/cold" in out  # says which scenarios there are
    path = write(tmp_path, "t2.json", transcript([GOOD_MESSAGE], scenario="flu"))
    assert_refused(run("grade", tiny, path), "'flu'", "tiny/cold")
    assert_refused(run("play", tiny, "--scenario", "flu"), "'flu'", "tiny/cold")
