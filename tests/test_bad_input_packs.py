"""Bad input in lexicon files and in the v2 parts of packs (the bad-input audit, items 2.4 to
2.7, 3.2 and 3.6): `sandbox validate` refuses it with exit code 2 and FILE:LINE, the key
path and what is wrong, as for any pack error; never a traceback, never "valid".

v1 packs are untouched: in v1, `~` and `...` are literal text (../shared/scenario-format.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_support import run_in_process
from test_cli_packs import assert_refused, output

from sandbox.engine.conversation import Conversation
from sandbox.scenarios.errors import PackErrors
from sandbox.scenarios.lexicon import bundled_lexicon, load_lexicon
from sandbox.scenarios.loader import load_pack, load_pack_text

ROOT = Path(__file__).resolve().parents[1]
V1_PACK = (ROOT / "tests" / "data" / "tiny-pack-en.yaml").read_text("utf-8")

V2_PACK = """\
pack:
  id: tiny2
  title: Tiny v2 pack
  locale: en
  format: 2
concepts:
  my-meds:
    description: Asking about medicines
    en: [medication*, ~medicine, other tablets]
scenarios:
  - id: cold
    title: A customer with a cold
    brief: A customer has a cold and wants something for it.
    topic: [ibuprofen, ~nsaid]
    persona:
      name: Ann
      mood: worried
    opening: "Hi, can I have ibuprofen for my cold?"
    facts:
      - id: takes-warfarin
        asked_by: [~my-meds]
        reply: "I take warfarin."
    reactions:
      - id: pushes
        when: [~sell]
        say: "Can't you just send it?"
        negation: false
    fallback: "Sorry?"
    ends_when: [goodbye]
    rubric:
      criteria:
        - id: ask-medication
          kind: inquiry
          match: [~my-meds]
        - id: warns
          kind: contraindication
          match: {all: [[~topic], [~bleeding]]}
          applies_if_revealed: takes-warfarin
"""

LEXICON = """\
lexicon: {description: org concepts}
concepts:
  org-thing:
    description: Things
    en: [widget*, gadget]
    zh: [小工具]
  org-ref:
    en: [~org-thing, ~nsaid]
"""


def run(*args: Any, env: dict[str, str | None] | None = None, cwd: Path) -> Any:
    return run_in_process([str(a) for a in args], cwd=cwd, env=env)


def line_of(text: str, fragment: str) -> int:
    found = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert found, f"{fragment!r} is not in the text"
    return found[0]


def changed(old: str, new: str, text: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def validate(tmp_path: Path, text: str, name: str = "p.yaml", *extra: str) -> Any:
    (tmp_path / name).write_text(text, "utf-8")
    return run("validate", *extra, name, cwd=tmp_path)


def test_the_base_packs_and_lexicon_are_valid(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(LEXICON, "utf-8")
    result = validate(tmp_path, V2_PACK, "p.yaml", "--lexicon", "org.yaml")
    assert result.returncode == 0, output(result)
    assert validate(tmp_path, V1_PACK, "v1.yaml").returncode == 0
    assert validate(tmp_path, LEXICON, "org.yaml").returncode == 0


# --- 2.4: the `lexicon:` header -------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("lexicon: [1, 2]", "org.yaml:1: lexicon: expected a mapping (description), got a list"),
        ("lexicon:", "org.yaml:1: lexicon: expected a mapping (description), got nothing (null)"),
        (
            "lexicon: {description: x, author: y}",
            "org.yaml:1: lexicon › author: unknown key 'author' (a lexicon's header has "
            "description)",
        ),
        (
            "lexicon: {descripton: x}",
            "org.yaml:1: lexicon › descripton: unknown key 'descripton' (did you mean "
            "'description'? ",
        ),
        (
            "lexicon:\n  description: 3",
            "org.yaml:2: lexicon › description: expected a string, got a number",
        ),
        ("lexicon: {description: ''}", "org.yaml:1: lexicon › description: must not be empty"),
    ],
)
def test_the_lexicon_header_is_a_mapping_of_the_documented_keys(
    tmp_path: Path, header: str, message: str
) -> None:
    text = changed("lexicon: {description: org concepts}", header, LEXICON)
    assert_refused(validate(tmp_path, text, "org.yaml"), message, "1 problem in 1 file")
    # The same file named by --lexicon and by SANDBOX_LEXICON for a pack.
    (tmp_path / "p.yaml").write_text(V2_PACK, "utf-8")
    assert_refused(run("validate", "--lexicon", "org.yaml", "p.yaml", cwd=tmp_path), message)
    env = {"SANDBOX_LEXICON": "org.yaml"}
    assert_refused(run("validate", "p.yaml", cwd=tmp_path, env=env), message)
    assert_refused(run("lexicon", "list", "--lexicon", "org.yaml", cwd=tmp_path), message)


# --- 2.5 and 3.2: lexicon phrases are checked as pack phrases, in the lexicon's file --------


@pytest.mark.parametrize(
    ("phrases", "message"),
    [
        (
            'en: ["~org-thing* here"]',
            "'*' may stand only at the end of a phrase's last word: '~org-thing* here'",
        ),
        ('zh: ["...工具"]', "'...' must stand between two words of a phrase: '...工具'"),
        ('zh: ["工具…"]', "'...' must stand between two words of a phrase: '工具…'"),
        ('en: ["stop ..."]', "'...' must stand between two words of a phrase: 'stop ...'"),
        ('en: ["~ send"]', "'~' must be followed by a concept's id"),
        ('en: ["send~sell"]', "a concept ('~name') must start a word: 'send~sell'"),
        ('en: ["~org-thing with ~nosuch"]', "no concept '~nosuch' in the lexicon"),
        ("en: [~t-one]", "concepts include each other: t-one -> t-one"),
        # Only what the template stands for breaks the rule: '100%' cannot take a '*'.
        ('en: ["about ~pct*"]', "'*' must follow a word: 'about 100%*' (from 'about ~pct*')"),
    ],
)
def test_a_lexicon_phrase_is_checked_like_a_pack_phrase(
    tmp_path: Path, phrases: str, message: str
) -> None:
    text = LEXICON + "  pct: {en: ['100%']}\n" + f"  t-one: {{{phrases}}}\n"
    line = line_of(text, "t-one:")
    lang = phrases[:2]
    where = f"org.yaml:{line}: concept 't-one' › {lang}[0]: "
    assert_refused(validate(tmp_path, text, "org.yaml"), where + message, "1 problem in 1 file")


def test_a_lexicon_error_names_the_lexicon_file_not_the_pack_that_uses_it(tmp_path: Path) -> None:
    lexicon = LEXICON + '  t-one: {en: ["~org-thing* here"]}\n'
    (tmp_path / "org.yaml").write_text(lexicon, "utf-8")
    pack = changed("when: [~sell]", "when: [~t-one]", V2_PACK)
    line = line_of(lexicon, "t-one:")
    for result in (
        validate(tmp_path, pack, "p.yaml", "--lexicon", "org.yaml"),
        run("validate", "p.yaml", cwd=tmp_path, env={"SANDBOX_LEXICON": "org.yaml"}),
    ):
        text = assert_refused(result, f"org.yaml:{line}: concept 't-one' › en[0]: '*' may stand")
        # Never blamed on the pack (it only says the concept is not there).
        assert "widget* here" not in text
        assert not any(ln.startswith("p.yaml") and "'*'" in ln for ln in text.splitlines())


def test_a_zh_phrase_that_starts_with_a_gap_is_refused_in_a_zh_pack_too(tmp_path: Path) -> None:
    pack = changed("locale: en", "locale: zh-CN", V2_PACK)
    pack = changed("when: [~sell]", 'when: ["...工具"]', pack)
    pack = changed("[medication*, ~medicine, other tablets]", "[吃什么药]", pack)
    pack = changed("en: [吃什么药]", "zh: [吃什么药]", pack)
    line = line_of(pack, "...工具")
    assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line}: scenario 'cold' › reaction 'pushes' › when › any[0]: '...' must "
        "stand between two words of a phrase: '...工具'",
    )
    # Chinese writes its ellipsis as ……: one gap, between two words.
    ok = changed('"...工具"', '"别……吃"', pack)
    assert validate(tmp_path, ok).returncode == 0


def test_lexicon_errors_print_the_concept_and_key(tmp_path: Path) -> None:
    text = (
        "concepts:\n"
        "  x:\n"
        "    en: [fine, also fine, 3, '']\n"
        "    fr: [bon]\n"
        "    description: [a]\n"
        "  y: {en: fine}\n"
    )
    out = assert_refused(validate(tmp_path, text, "org.yaml"))
    assert "org.yaml:3: concept 'x' › en[2]: expected a phrase (a string), got a number" in out
    assert "org.yaml:3: concept 'x' › en[3]: a phrase may not be empty" in out
    assert (
        "org.yaml:4: concept 'x' › fr: unknown key 'fr' (a concept has description, en, zh)" in out
    )
    assert "org.yaml:5: concept 'x' › description: expected a string, got a list" in out
    assert "org.yaml:6: concept 'y' › en: expected a list of phrases, got a string" in out


def test_a_concept_whose_only_phrase_is_refused_is_reported_once(tmp_path: Path) -> None:
    text = "concepts:\n  x: {en: ['in*ject']}\n"
    out = assert_refused(validate(tmp_path, text, "org.yaml"), "1 problem in 1 file")
    assert "needs phrases" not in out


# --- 2.6: a concept with no phrases in the pack's language --------------------------------


def test_a_concept_with_no_phrases_in_the_packs_language_is_an_error(tmp_path: Path) -> None:
    pack = changed("locale: en", "locale: zh-CN", V2_PACK)
    asked = line_of(pack, "asked_by: [~my-meds]")
    match = line_of(pack, "match: [~my-meds]")
    out = assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{asked}: scenario 'cold' › fact 'takes-warfarin' › asked_by › any[0]: "
        "concept '~my-meds' has no zh phrases",
        f"p.yaml:{match}: scenario 'cold' › rubric › criterion 'ask-medication' › match › "
        "any[0]: concept '~my-meds' has no zh phrases",
        "2 problems in 1 file",
    )
    assert "valid" not in out.splitlines()[-1]
    # In a template too.
    en_pack = changed("when: [~sell]", 'when: ["please ~zh-only now"]', V2_PACK)
    en_pack = changed("concepts:\n", "concepts:\n  zh-only: {zh: [只有中文]}\n", en_pack)
    assert_refused(validate(tmp_path, en_pack), "concept '~zh-only' has no en phrases")


# --- 2.7: requirements that can never be met; stray tildes; a concept named topic ---------


#: The tiny pack read as format v2: steps that can never happen are a v2 error only.
V1_AS_V2 = V1_PACK.replace("  locale: en\n", "  locale: en\n  format: 2\n", 1)


def test_a_fact_that_requires_itself_is_an_error(tmp_path: Path) -> None:
    pack = changed(
        '        reply: "I take pills for my blood pressure."\n',
        '        reply: "I take pills for my blood pressure."\n        requires: [takes-pills]\n',
        V1_AS_V2,
    )
    line = line_of(pack, "requires: [takes-pills]")
    assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line}: scenario 'cold' › fact 'takes-pills' › requires[0]: 'takes-pills' "
        "requires itself, so it can never happen",
        "1 problem in 1 file",
    )


def test_requirements_in_a_circle_are_an_error_naming_the_ids(tmp_path: Path) -> None:
    reactions = (
        "    reactions:\n"
        "      - id: r1\n"
        '        when: ["saline"]\n'
        '        say: "Fine."\n'
        "        requires: [takes-pills, r2]\n"
        "      - id: r2\n"
        '        when: ["water"]\n'
        '        say: "Ok."\n'
        "        requires: [r3]\n"
        "      - id: r3\n"
        '        when: ["rest"]\n'
        '        say: "Ok."\n'
        "        requires: [r1]\n"
        "      - id: r4\n"
        '        when: ["tea"]\n'
        '        say: "Tea."\n'
        "        requires: [r4]\n"
    )
    pack = changed('    fallback: "Sorry?"\n', reactions + '    fallback: "Sorry?"\n', V1_AS_V2)
    out = assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line_of(pack, 'requires: [takes-pills, r2]')}: scenario 'cold' › reaction "
        "'r1' › requires[1]: requirements go round in a circle: 'r1' -> 'r2' -> 'r3' -> 'r1', "
        "so none of them can ever happen",
        f"p.yaml:{line_of(pack, 'requires: [r4]')}: scenario 'cold' › reaction 'r4' › "
        "requires[0]: 'r4' requires itself",
        "2 problems in 1 file",  # one circle, reported once
    )
    assert "'r2' -> 'r3' -> 'r1' -> 'r2'" not in out


@pytest.mark.parametrize("text", [V1_PACK, V1_AS_V2])
def test_a_fact_only_a_reaction_reveals_may_require_itself(tmp_path: Path, text: str) -> None:
    # Section 4: a reaction's reveals say a fact whatever its own requires, so a fact that
    # requires itself is one the customer tells only when that reaction fires; in v1 no
    # rule of the contract refuses it, in v2 it is no step that can never happen.
    pack = changed(
        '        reply: "I take pills for my blood pressure."\n',
        '        reply: "I take pills for my blood pressure."\n        requires: [takes-pills]\n'
        "    reactions:\n"
        "      - id: trusts\n"
        '        when: ["trust"]\n'
        '        say: "Alright then."\n'
        "        reveals: [takes-pills]\n",
        text,
    )
    result = validate(tmp_path, pack)
    assert result.returncode == 0, output(result)
    conversation = Conversation.replay(
        load_pack(tmp_path / "p.yaml").compiled["cold"],
        "en",
        [("any medication?", 5), ("trust me", 9)],
    )
    assert conversation.revealed == ["takes-pills"]


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ('"~ send"', "'~' must be followed by a concept's id (~name: lower-case letters, "),
        ('"~"', "'~' must be followed by a concept's id"),
        ('"send~sell"', "a concept ('~name') must start a word: 'send~sell'"),
    ],
)
def test_a_tilde_that_starts_no_concept_is_an_error_in_v2(
    tmp_path: Path, phrase: str, message: str
) -> None:
    pack = changed("when: [~sell]", f"when: [{phrase}]", V2_PACK)
    line = line_of(pack, f"when: [{phrase}]")
    assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line}: scenario 'cold' › reaction 'pushes' › when › any[0]: {message}",
    )


def test_tildes_that_are_ranges_or_chinese_slots_stay_allowed() -> None:
    pack = changed("when: [~sell]", 'when: ["5~8 days", "take it for ~wait"]', V2_PACK)
    load_pack_text(pack, "p.yaml")
    zh = changed("locale: en", "locale: zh-CN", V2_PACK)
    zh = changed("en: [medication*, ~medicine, other tablets]", "zh: [吃什么药]", zh)
    zh = changed("when: [~sell]", 'when: ["先~stop几天", "5~8天", "三~五天"]', zh)
    load_pack_text(zh, "p.yaml")


def test_v1_keeps_tildes_and_gaps_as_literal_text(tmp_path: Path) -> None:
    pack = changed(
        'asked_by: ["medication*"]',
        'asked_by: ["medication*", "~ send", "send~sell", "~nosuch", "take ... medication"]',
        V1_PACK,
    )
    result = validate(tmp_path, pack)
    assert result.returncode == 0, output(result)
    loaded = load_pack_text(pack, "p.yaml")
    _, matcher = loaded.compiled["cold"].facts[0]
    assert matcher.matches(loaded.compiled["cold"].read("they said ~nosuch"))


def test_a_concept_named_topic_is_an_error(tmp_path: Path) -> None:
    pack = changed("concepts:\n", "concepts:\n  topic: {en: [flu]}\n", V2_PACK)
    assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line_of(pack, 'topic: {en')}: concept 'topic': a concept may not be named "
        "'topic': ~topic is a scenario's `topic`",
    )
    lexicon = LEXICON + "  topic: {en: [flu]}\n"
    assert_refused(
        validate(tmp_path, lexicon, "org.yaml"),
        f"org.yaml:{line_of(lexicon, 'topic:')}: concept 'topic': a concept may not be named",
    )


# --- 3.2: v2 concept errors print the key path --------------------------------------------


def test_v2_concept_errors_print_the_key_path(tmp_path: Path) -> None:
    pack = changed("when: [~sell]", "when: [~nosuch]", V2_PACK)
    assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line_of(pack, '[~nosuch]')}: scenario 'cold' › reaction 'pushes' › when › "
        "any[0]: no concept '~nosuch' in the lexicon",
    )
    looped = changed("other tablets]", "~my-meds]", V2_PACK)
    out = assert_refused(
        validate(tmp_path, looped),
        f"p.yaml:{line_of(looped, '~my-meds]')}: concept 'my-meds' › en[2]: concepts include "
        "each other: my-meds -> my-meds",
        "1 problem in 1 file",  # not again at each use of the concept
    )
    assert "asked_by" not in out
    with pytest.raises(PackErrors) as caught:
        load_pack_text(pack, "p.yaml")
    (error,) = caught.value.errors
    assert error.key == "scenarios.0.reactions.0.when.any.0"


def test_the_api_names_the_lexicon_phrase_and_its_key(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        "concepts:\n  x:\n    en:\n      - fine\n      - also fine\n      - '~x and more'\n",
        "utf-8",
    )
    with pytest.raises(PackErrors) as caught:
        load_lexicon([path], bundled_lexicon())
    (error,) = caught.value.errors
    assert (error.path, error.line, error.key) == (str(path), 6, "concepts.x.en.2")
    assert str(error) == f"{path}:6: concept 'x' › en[2]: concepts include each other: x -> x"


# --- 3.6: wording --------------------------------------------------------------------------


@pytest.mark.parametrize("topic", [None, "topic: []"])
def test_topic_without_the_scenarios_topic_says_so(tmp_path: Path, topic: str | None) -> None:
    replacement = "" if topic is None else f"    {topic}\n"
    pack = changed("    topic: [ibuprofen, ~nsaid]\n", replacement, V2_PACK)
    line = line_of(pack, "[[~topic]")
    out = assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line}: scenario 'cold' › rubric › criterion 'warns' › match › all[0][0]: "
        "~topic needs the scenario's `topic`",
    )
    assert "no concept '~topic'" not in out


def test_topic_naming_itself_is_an_error(tmp_path: Path) -> None:
    pack = changed("topic: [ibuprofen, ~nsaid]", "topic: [ibuprofen, ~topic]", V2_PACK)
    assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line_of(pack, 'topic: [')}: scenario 'cold' › topic[1]: a scenario's `topic` "
        "cannot name ~topic itself",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("50", "hints: must be 'off', 'on' or a whole number from 1 to 20, got 50"),
        ("0", "hints: must be 'off', 'on' or a whole number from 1 to 20, got 0"),
        (
            "sometimes",
            "hints: expected 'off', 'on' or a whole number from 1 to 20, got 'sometimes'",
        ),
        ("2.5", "hints: expected 'off', 'on' or a whole number from 1 to 20, got 2.5"),
        ("[1]", "hints: expected 'off', 'on' or a whole number from 1 to 20, got a list"),
    ],
)
def test_a_bad_hints_value_gets_one_message(tmp_path: Path, value: str, message: str) -> None:
    pack = changed(
        "    time_limit_s: 600\n", f"    time_limit_s: 600\n    hints: {value}\n", V1_PACK
    )
    out = assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line_of(pack, 'hints:')}: scenario 'cold' › {message}",
        "1 problem in 1 file",
    )
    assert "constrained" not in out


@pytest.mark.parametrize("value", ["off", "on", "no", "1", "20"])
def test_good_hints_values_still_load(value: str) -> None:
    pack = changed(
        "    time_limit_s: 600\n", f"    time_limit_s: 600\n    hints: {value}\n", V1_PACK
    )
    load_pack_text(pack, "p.yaml")


def test_a_whole_number_key_shows_the_number_it_got(tmp_path: Path) -> None:
    pack = changed(
        "    fallback:",
        '    reactions:\n      - id: r1\n        when: ["saline"]\n'
        '        say: "Fine."\n        times: 1.5\n    fallback:',
        V1_PACK,
    )
    assert_refused(
        validate(tmp_path, pack),
        f"p.yaml:{line_of(pack, 'times: 1.5')}: scenario 'cold' › reaction 'r1' › times: "
        "expected a whole number, got 1.5",
    )
