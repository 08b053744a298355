"""Bad input to the pack author's commands (`grade`, `replay`, `explain`, `validate`, `test`,
`packs`, `questions`, `play`), run through the real CLI: a clear message with the file (and
the field or line where there is one), exit code 2, never an "internal error", and no
partial output before it (the audit of docs/... FINDINGS 1.2-1.4, 1.10, 2.2, 2.8, 3.4, 3.5).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_cli_packs import PACK, assert_refused, output, run

from sandbox.evaluator.transcript import MAX_TRANSCRIPT_BYTES
from sandbox.scenarios.loader import MAX_PACK_BYTES

GOOD_MESSAGES = [
    {"role": "persona", "text": "Hi", "at": 0},
    {"role": "trainee", "text": "do you take medication?", "at": 5},
]

BANK = """\
bank:
  id: audit-bank
  title: Audit bank
  locale: en
  trade: pharmacy
questions:
  - id: q-tf
    type: true_false
    prompt: True?
    answer: true
    explanation: Yes.
"""

LEXICON = """\
lexicon: {description: org concepts}
concepts:
  org-thing:
    description: Things
    en: ["", gadget]
    zh: [小工具]
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(PACK, encoding="utf-8")
    return path


def transcript(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.json"
    path.write_text(text, encoding="utf-8")
    return path


def commands(pack: Path, tr: Path) -> list[list[object]]:
    return [
        ["grade", pack, tr],
        ["grade", pack, tr, "--table"],
        ["replay", pack, tr],
        ["explain", pack, tr, "--criterion", "ask-medication"],
    ]


# --- 1.2 a huge integer `at` ---------------------------------------------------------------


@pytest.mark.parametrize("digits", [320, 5000])
def test_a_huge_integer_at_is_refused_with_its_field(
    tmp_path: Path, pack: Path, digits: int
) -> None:
    text = json.dumps({"pack": "tiny", "scenario": "cold", "messages": GOOD_MESSAGES})
    tr = transcript(tmp_path, text.replace('"at": 5', '"at": ' + "9" * digits))
    for argv in commands(pack, tr):
        result = run(*argv)
        assert_refused(
            result,
            f"{tr}: messages[1].at: must be a number of seconds",
            f"a whole number of {digits:,} digits",
        )
        assert result.stdout == ""


# --- 1.3 deeply nested JSON ------------------------------------------------------------------


def test_a_deeply_nested_transcript_is_refused(tmp_path: Path, pack: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    tr = transcript(tmp_path, '{"pack":"tiny","scenario":"cold","messages":[],"x":' + deep + "}")
    for argv in commands(pack, tr):
        result = run(*argv)
        assert_refused(result, f"{tr}: not a transcript: arrays or objects nested too deeply")
        assert result.stdout == ""


# --- 1.4 a lone surrogate ------------------------------------------------------------------


def test_a_lone_surrogate_is_refused_with_the_message_and_field(tmp_path: Path, pack: Path) -> None:
    tr = transcript(
        tmp_path,
        '{"pack":"tiny","scenario":"cold","messages":[{"role":"persona","text":"Hi","at":0},'
        '{"role":"trainee","text":"\\ud800 medication","at":5}]}',
    )
    for argv in [
        *commands(pack, tr),
        ["grade", pack, tr, "--json"],
        ["replay", pack, tr, "--json"],
    ]:
        result = run(*argv)
        assert_refused(result, f"{tr}: messages[1].text: not valid Unicode text (a lone surrogate)")
        assert result.stdout == "", "nothing is printed before the refusal"


def test_replay_and_explain_still_print_a_good_transcript(tmp_path: Path, pack: Path) -> None:
    tr = transcript(
        tmp_path, json.dumps({"pack": "tiny", "scenario": "cold", "messages": GOOD_MESSAGES})
    )
    replayed = run("replay", pack, tr)
    assert replayed.returncode == 0, output(replayed)
    assert (
        replayed.stdout.count("\n") >= 2 and "trainee: do you take medication?" in replayed.stdout
    )
    explained = run("explain", pack, tr, "--criterion", "ask-medication")
    assert explained.returncode == 0, output(explained)
    assert explained.stdout.startswith("ask-medication (")


# --- 1.10 size limits before reading --------------------------------------------------------


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_a_huge_transcript_is_refused_by_its_size(tmp_path: Path, pack: Path) -> None:
    tr = sparse(tmp_path / "t.json", 3 * 1024**3)  # 3 GB, sparse: never read
    assert_refused(
        run("grade", pack, tr),
        f"{tr}: file is 3,221,225,472 bytes; a transcript may be at most {MAX_TRANSCRIPT_BYTES:,}",
    )


def test_a_huge_pack_bank_or_lexicon_is_refused_by_its_size(tmp_path: Path) -> None:
    big = sparse(tmp_path / "big.yaml", 3 * 1024**3)
    message = f"{big}: file is 3,221,225,472 bytes; a pack may be at most {MAX_PACK_BYTES:,}"
    assert_refused(run("validate", big), message)
    assert_refused(run("test", big), message)
    tr = transcript(tmp_path, "{}")
    assert_refused(run("grade", big, tr), message)
    # A bank (sniffed from its start) and a lexicon file say what they are.
    bank = tmp_path / "bank.yaml"
    bank.write_text(BANK + "#" + " " * (MAX_PACK_BYTES + 10) + "\n", encoding="utf-8")
    assert_refused(run("validate", bank), f"{bank}: file is", "a bank may be at most 1,048,576")
    lex = tmp_path / "lex.yaml"
    lex.write_text(LEXICON + "#" + " " * (MAX_PACK_BYTES + 10) + "\n", encoding="utf-8")
    assert_refused(
        run("validate", lex), f"{lex}: file is", "a lexicon file may be at most 1,048,576"
    )
    assert_refused(
        run("lexicon", "list", "--lexicon", lex), "a lexicon file may be at most 1,048,576"
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_without_being_read(tmp_path: Path) -> None:
    assert_refused(run("validate", "/dev/zero"), "/dev/zero: not a regular file")
    pack = tmp_path / "p.yaml"
    pack.write_text(PACK, encoding="utf-8")
    assert_refused(
        run("grade", pack, "/dev/zero"),
        "/dev/zero: file is more than 5,242,880 bytes; a transcript may be at most 5,242,880",
    )


# --- 2.2 play --save to a path that cannot be written ----------------------------------------


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_play_checks_the_save_path_before_the_session(
    tmp_path: Path, pack: Path, where: str
) -> None:
    save = tmp_path / "s.json"
    if where == "folder":
        save.mkdir()
        why = f"{save}: cannot write: it is a folder"
    else:
        save = tmp_path / "nodir" / "s.json"
        why = f"{save}: cannot write: no folder"
    result = run("play", pack, "--scenario", "cold", "--save", save, stdin="hello\n/finish\n")
    assert_refused(result, why)
    assert result.stdout == "", "the session did not start"


# --- 2.8 folders with no pack files; *.yml and *.YAML ----------------------------------------


def test_a_folder_with_no_pack_files_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "packs"
    empty.mkdir()
    named = tmp_path / "p.yaml"  # a folder named like a pack
    named.mkdir()
    for folder in (empty, named):
        for command in ("validate", "test", "packs"):
            assert_refused(run(command, folder), f"{folder}: no pack files (*.yaml or *.yml) here")
        assert_refused(run("questions", folder), f"{folder}: no bank files (*.yaml or *.yml) here")
        assert_refused(
            run("play", folder, "--scenario", "cold"),
            f"{folder}: no pack files (*.yaml or *.yml) here",
        )


@pytest.mark.parametrize("name", ["a.yml", "a.YAML", "a.Yml"])
def test_yml_and_upper_case_files_in_a_folder_are_read(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / name).write_text(PACK, encoding="utf-8")
    valid = run("validate", folder)
    assert valid.returncode == 0, output(valid)
    assert "1 pack, 1 scenario" in valid.stdout
    (folder / name).write_text(PACK.replace("  id: tiny", "  id: Tiny Pack"), encoding="utf-8")
    assert_refused(run("validate", folder), f"{folder / name}:")


# --- 3.4 and 3.5 ---------------------------------------------------------------------------


def test_validate_prints_a_lexicon_problem_once(tmp_path: Path) -> None:
    lex = tmp_path / "org.yaml"
    lex.write_text(LEXICON, encoding="utf-8")
    result = assert_refused(run("validate", lex), f"{lex}:")
    problems = [line for line in result.splitlines() if line.startswith(f"{lex}:")]
    assert len(problems) == len(set(problems)) == 1, result
    assert "1 problem in 1 file" in result


def test_a_bank_with_a_byte_order_mark_is_a_bank(tmp_path: Path) -> None:
    bank = tmp_path / "b.yaml"
    bank.write_text("\ufeff" + BANK, encoding="utf-8")
    valid = run("validate", bank)
    assert valid.returncode == 0, output(valid)
    assert "1 question bank (1 question)" in valid.stdout
    bank.write_text("\ufeff" + BANK.replace("true_false", "essay"), encoding="utf-8")
    text = assert_refused(run("validate", bank), f"{bank}:", "type")
    assert "not a pack" not in text
