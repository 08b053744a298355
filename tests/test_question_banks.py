"""Question banks: the format and its errors (FILE:LINE), marking, draws, the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from cli_support import run_in_process
from question_support import TEST_BANK

from sandbox.questions.loader import load_bank_text, load_banks
from sandbox.questions.models import Question
from sandbox.questions.scoring import (
    AnswerError,
    draw,
    mark,
    normalise,
    option_order,
    run_examples,
    select,
)
from sandbox.scenarios.errors import PackErrors

ROOT = Path(__file__).resolve().parents[1]
BANKS = ROOT / "question_banks"

GOOD = textwrap.dedent(
    """\
    bank:
      id: t-bank
      title: Test bank
      locale: en
      trade: pharmacy
    questions:
      - id: q-single
        type: single
        tags: [a]
        prompt: Pick one
        options:
          - text: right
            correct: true
          - text: wrong
        explanation: because
      - id: q-multi
        type: multiple
        difficulty: hard
        tags: [a, b]
        prompt: Pick some
        options:
          - {text: one, correct: true}
          - {text: two}
          - {text: three, correct: true}
        explanation: because
      - id: q-tf
        type: true_false
        tags: [b]
        prompt: Is it?
        answer: false
        explanation: because
      - id: q-short
        type: short
        points: 2
        prompt: When?
        match:
          any: [~wait]
        examples:
          - {answer: Please wait a few months., correct: true}
          - {answer: You should not wait at all., correct: false}
        explanation: because
      - id: q-manual
        type: short
        prompt: Explain
        manual: true
        model_answer: the model answer
        explanation: because
    """
)


def errors_of(text: str) -> list[str]:
    with pytest.raises(PackErrors) as caught:
        load_bank_text(text, "bank.yaml")
    return [str(e) for e in caught.value.errors]


def test_a_good_bank_loads_with_its_locale_and_trade() -> None:
    bank = load_bank_text(GOOD, "bank.yaml")
    assert [q.id for q in bank.questions] == ["q-single", "q-multi", "q-tf", "q-short", "q-manual"]
    assert {q.locale for q in bank.questions} == {"en"}
    assert {q.trade for q in bank.questions} == {"pharmacy"}
    assert [q.objective for q in bank.questions] == [True, True, True, True, False]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    tags: [a]\n",
            "    tag: [a]\n",
            "bank.yaml:9: question 'q-single' › tag: unknown key 'tag' (did you mean 'tags'?)",
        ),
        (
            "    answer: false\n",
            "    answer: nope\n",
            "bank.yaml:30: question 'q-tf' › answer: expected true or false, got a string",
        ),
        (
            "      - text: wrong\n",
            "      - text: wrong\n        correct: true\n",
            "bank.yaml:11: question 'q-single' › options: a 'single' question needs exactly one option with 'correct: true', got 2",
        ),
        (
            "    answer: false\n",
            "",
            "bank.yaml:26: question 'q-tf': a 'true_false' question needs 'answer: true' or 'answer: false'",
        ),
        (
            "    model_answer: the model answer\n",
            "",
            "bank.yaml:42: question 'q-manual': a 'manual: true' question needs 'model_answer' for its marker",
        ),
        (
            "  - id: q-tf\n",
            "  - id: q-multi\n",
            "bank.yaml:26: question 'q-multi' › id: duplicate question id 'q-multi'",
        ),
        (
            "      any: [~wait]\n",
            "      any: [~no-such-concept]\n",
            "bank.yaml:37: question 'q-short' › match › any[0]: no concept '~no-such-concept' in the lexicon",
        ),
        (
            "    difficulty: hard\n",
            "    difficulty: brutal\n",
            "bank.yaml:18: question 'q-multi' › difficulty: 'brutal' is not allowed; expected 'easy', 'medium' or 'hard'",
        ),
        (
            "  trade: pharmacy\n",
            "  trade: bakery\n",
            "bank.yaml:5: bank › trade: 'bakery' is not allowed; expected 'pharmacy' or 'aesthetics'",
        ),
        ("        answer: false\n", "", None),
    ],
)
def test_errors_name_the_file_and_line(old: str, new: str, expected: str | None) -> None:
    if expected is None:  # an option on a true/false question
        text = GOOD.replace("    answer: false\n", "    answer: false\n    options: [{text: x}]\n")
        problems = errors_of(text)
        assert problems == [
            "bank.yaml:31: question 'q-tf' › options: 'options' does not belong to a "
            "'true_false' question"
        ]
        return
    assert old in GOOD
    problems = errors_of(GOOD.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_file_that_is_not_a_bank_shows_none_of_its_text() -> None:
    problems = errors_of("secret: !!python/name:os.system hunter2\n")
    assert problems == [
        "bank.yaml:1: not a question bank: a bank is a mapping with the keys 'bank' and "
        "'questions' (nothing of this file is shown)"
    ]


def test_marking_each_type() -> None:
    bank = load_bank_text(GOOD, "bank.yaml")
    q = {x.id: x for x in bank.questions}
    assert mark(q["q-single"], 0).score == 1 and mark(q["q-single"], 1).score == 0
    assert mark(q["q-multi"], [0, 2]).correct is True
    assert mark(q["q-multi"], [0]).correct is False  # all or nothing
    assert mark(q["q-tf"], False).correct is True and mark(q["q-tf"], True).correct is False
    assert mark(q["q-short"], "You should wait three months").score == 2
    assert mark(q["q-short"], "Do not wait, go ahead").score == 0  # negation read as in packs
    assert mark(q["q-manual"], "some text").score is None  # a person marks it
    assert mark(q["q-manual"], None).score == 0
    assert normalise(q["q-multi"], ["2", "0"]) == [0, 2]
    assert normalise(q["q-tf"], "true") is True
    with pytest.raises(AnswerError):
        normalise(q["q-single"], "7")


def test_draws_and_shuffles_are_reproduced_from_their_seed() -> None:
    questions = {q.id: q for q in load_bank_text(TEST_BANK, "test.yaml").questions}
    pool = select(questions.values(), locale="en")
    first = draw(pool, 4, seed=1234)
    assert draw(pool, 4, seed=1234) == first
    assert {tuple(draw(pool, 4, seed=s)) for s in range(10)} != {tuple(first)}
    assert len(set(first)) == 4
    missed = ["tw-manual", "tw-extra"]
    assert set(missed) <= set(draw(pool, 3, seed=7, first=missed))
    question: Question = questions["tw-single"]
    assert option_order(question, 42) == option_order(question, 42)
    assert sorted(option_order(question, 42)) == [0, 1, 2]
    orders = {tuple(option_order(question, s)) for s in range(20)}
    assert len(orders) > 1
    assert {q.id for q in select(pool, tags=["tw-other"])} == {"tw-extra"}
    assert select(pool, difficulties=["hard"]) == []


def test_bundled_banks_are_valid_and_their_examples_pass() -> None:
    loaded = load_banks([BANKS])
    assert loaded.errors == []
    questions = list(loaded.questions.values())
    assert sum(q.locale == "en" for q in questions) >= 10
    assert sum(q.locale == "zh-CN" for q in questions) >= 10
    assert {q.trade for q in questions} == {"pharmacy", "aesthetics"}
    results = [r for bank in loaded.banks for r in run_examples(bank)]
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def test_cli_validate_test_and_questions(tmp_path: Path) -> None:
    ok = run_in_process(["validate", str(BANKS)])
    assert ok.returncode == 0, ok.stderr
    assert "question banks (" in ok.stdout
    tested = run_in_process(["test", str(BANKS)])
    assert tested.returncode == 0 and " passed, 0 failed" in tested.stdout
    summary = run_in_process(["questions", str(BANKS), "--json"])
    data = json.loads(summary.stdout)
    assert data["by_locale"]["en"] >= 10 and data["by_type"]["true_false"] >= 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("    answer: false\n", "    answer: nope\n"), "utf-8")
    failed = run_in_process(["validate", str(bad)])
    assert failed.returncode == 2
    assert f"{bad}:30: question 'q-tf' › answer: expected true or false" in failed.stdout
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        GOOD.replace(
            "{answer: You should not wait at all., correct: false}",
            "{answer: You should not wait at all., correct: true}",
        ),
        "utf-8",
    )
    tested = run_in_process(["test", str(wrong)])
    assert tested.returncode == 1
    assert "FAIL t-bank/q-short #2" in tested.stdout
    assert "expected accepted, got refused" in tested.stdout


def test_a_bad_setting_is_named_not_a_traceback() -> None:
    result = run_in_process(
        ["questions"], env={"SANDBOX_ENV": "production", "SANDBOX_SECRET_KEY": None}
    )
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: SANDBOX_SECRET_KEY")
    missing = run_in_process(["questions", "no/such/folder"])
    assert missing.returncode == 2 and "no/such/folder: no such file or folder" in missing.stderr
