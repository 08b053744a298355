"""Pack author commands: validate, test, grade, play, packs."""

from __future__ import annotations

import difflib
import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sandbox.cli.output import error, fail, table, writable

if TYPE_CHECKING:
    from sandbox.evaluator.grading import Grade
    from sandbox.evaluator.transcript import Transcript
    from sandbox.questions.loader import BankSet
    from sandbox.scenarios.errors import PackError
    from sandbox.scenarios.loader import PackSet
    from sandbox.scenarios.models import Pack, Scenario
    from sandbox.text.concepts import Lexicon

# The pack stack (pydantic models, the text engine, the question banks, the knowledge
# base) is imported inside each command, so `sandbox --help` and the other commands
# do not pay for it at start-up (tests/test_cli_startup.py).

Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Pack or question bank files, or folders of *.yaml (or *.yml) files; knowledge "
        "articles (*.md) and folders of them are checked too."
    ),
]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


LexiconOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--lexicon",
        envvar="SANDBOX_LEXICON",
        help="An organisation's lexicon file or folder, added to the bundled concepts "
        "for v2 packs (repeatable; default: $SANDBOX_LEXICON).",
    ),
]


def _head(path: Path) -> bytes:
    """The first MiB of a file (what the sniffs below read; never the whole of a huge file),
    without a UTF-8 byte-order mark; nothing when it cannot be read."""
    if not path.is_file():  # a device or a pipe is refused later, without waiting on it
        return b""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
    except OSError:
        return b""
    return head.removeprefix(b"\xef\xbb\xbf")


def _is_lexicon(path: Path) -> bool:
    """A YAML file of concepts rather than scenarios (`sandbox validate lexicon/`)."""
    head = _head(path)
    return (
        re.search(rb"(?m)^concepts:", head) is not None
        and re.search(rb"(?m)^scenarios:", head) is None
    )


def _lexicon(extra: list[Path] | None, errors: list[PackError]) -> Lexicon | None:
    """The bundled lexicon with `extra` files; None when there are none (the default)."""
    from sandbox.scenarios.errors import PackError, PackErrors
    from sandbox.scenarios.files import size_problem
    from sandbox.scenarios.lexicon import (
        MAX_LEXICON_BYTES,
        bundled_lexicon,
        lexicon_files,
        load_lexicon,
    )

    if not extra:
        return None
    files, _ = lexicon_files(extra)
    too_big = [
        PackError(str(f), None, None, problem)
        for f in files
        if (problem := size_problem(f, MAX_LEXICON_BYTES, "a lexicon file")) is not None
    ]
    if too_big:  # refused before anything of them is read into memory
        errors.extend(too_big)
        return None
    try:
        return load_lexicon(extra, bundled_lexicon())
    except PackErrors as exc:
        errors.extend(exc.errors)
        return None


def _knowledge_paths(paths: list[Path]) -> list[Path]:
    """The knowledge articles (`*.md`) and the folders that hold some, among `paths`."""
    from sandbox.knowledge.articles import is_article_file

    return [
        p
        for p in paths
        if is_article_file(p) or (p.is_dir() and next(p.rglob("*.md"), None) is not None)
    ]


def _is_bank(path: Path) -> bool:
    """A question bank (a top-level `bank:` key) rather than a pack."""
    from sandbox.questions.loader import is_bank_text

    return is_bank_text(_head(path))


NO_PACK_FILES = "no pack files (*.yaml or *.yml) here"


def _load(
    paths: list[Path], lexicon: list[Path] | None = None, *, articles: bool = False
) -> tuple[PackSet, int, BankSet]:
    """The packs of `paths`, how many lexicon files among them were checked, and the
    question banks among them. A folder with no pack, bank or lexicon file in it is an
    error (with `articles`, unless it holds knowledge articles: `validate` checks those)."""
    from sandbox.knowledge.articles import is_article_file
    from sandbox.questions.loader import load_banks
    from sandbox.scenarios.errors import PackError
    from sandbox.scenarios.files import pack_files, size_problem
    from sandbox.scenarios.lexicon import MAX_LEXICON_BYTES
    from sandbox.scenarios.loader import MAX_PACK_BYTES, load_packs

    given = [p for p in paths if p.exists() and not is_article_file(p)]
    entries = list(pack_files(given))
    problems: list[PackError] = []
    for folder in (p for p in given if p.is_dir()):
        if any(f == folder or f.parent == folder for f, _ in entries):
            continue
        if articles and next(folder.rglob("*.md"), None) is not None:
            continue
        problems.append(PackError(str(folder), None, None, NO_PACK_FILES))
    bank_files = [f for f, refused in entries if refused is None and _is_bank(f)]
    entries = [(f, refused) for f, refused in entries if f not in bank_files]
    lexicons = [f for f, refused in entries if refused is None and _is_lexicon(f)]
    problems.extend(refused for _, refused in entries if refused is not None)
    # Packs and lexicon files over their limit are refused before they are read at all.
    too_big: list[Path] = []
    for f, refused in entries:
        if refused is not None:
            continue
        limit, what = (
            (MAX_LEXICON_BYTES, "a lexicon file") if f in lexicons else (MAX_PACK_BYTES, "a pack")
        )
        if (problem := size_problem(f, limit, what)) is not None:
            problems.append(PackError(str(f), None, None, problem))
            too_big.append(f)
    lexicons = [f for f in lexicons if f not in too_big]
    # The lexicon files given as paths are checked once, with the --lexicon ones.
    base = _lexicon([*(lexicon or []), *lexicons], problems) if (lexicon or lexicons) else None
    banks = load_banks(bank_files, base)
    loaded = load_packs(
        [f for f, refused in entries if refused is None and f not in lexicons and f not in too_big],
        base,
    )
    loaded.files = len(entries) - len(lexicons)
    loaded.errors.extend(problems)
    loaded.errors.extend(
        PackError(str(p), None, None, "no such file or folder") for p in paths if not p.exists()
    )
    return loaded, len(lexicons), banks


def validate(paths: Paths, lexicon: LexiconOpt = None) -> None:
    """Check packs, question banks, lexicon files and knowledge articles against their
    formats; print every problem as FILE:LINE: message."""
    from sandbox.knowledge.articles import load_knowledge

    loaded, lexicons, banks = _load(paths, lexicon, articles=True)
    knowledge = _knowledge_paths(paths)
    articles = load_knowledge(knowledge) if knowledge else None
    errors = [*loaded.errors, *banks.errors, *(articles.errors if articles else [])]
    for problem in sorted(errors, key=lambda e: (e.path, e.line or 0)):
        typer.echo(str(problem))
    if errors:
        bad = len({e.path for e in errors})
        raise fail(f"{_plural(len(errors), 'problem')} in {_plural(bad, 'file')}")
    scenarios = sum(len(p.scenarios) for p in loaded.packs)
    examples = sum(len(s.examples) for p in loaded.packs for s in p.scenarios)
    also = f", {_plural(lexicons, 'lexicon file')}" if lexicons else ""
    if banks.banks:
        count = sum(len(b.questions) for b in banks.banks)
        also += f", {_plural(len(banks.banks), 'question bank')} ({_plural(count, 'question')})"
    if articles:
        also += f", {_plural(len(articles.articles), 'knowledge article')}"
    typer.echo(
        f"{_plural(len(loaded.packs), 'pack')}, {_plural(scenarios, 'scenario')}, "
        f"{_plural(examples, 'example')}{also}: valid"
    )


def test(paths: Paths, lexicon: LexiconOpt = None) -> None:
    """Replay every example of every pack, and check every short-answer example of every
    question bank, against what it expects."""
    from sandbox.evaluator.examples import run_pack
    from sandbox.questions.scoring import run_examples

    loaded, _, banks = _load(paths, lexicon)
    for problem in [*loaded.errors, *banks.errors]:
        typer.echo(str(problem))
    passed = failed = 0
    for bank in banks.banks:
        for outcome in run_examples(bank):
            if outcome.passed:
                passed += 1
                continue
            failed += 1
            typer.echo(f"FAIL {outcome.name}")
            want = "accepted" if outcome.expected else "refused"
            got = "accepted" if outcome.actual else "refused"
            typer.echo(f"  answer {outcome.answer!r}: expected {want}, got {got}")
    for pack in loaded.packs:
        for result in run_pack(pack):
            if result.passed:
                passed += 1
                continue
            failed += 1
            typer.echo(f"FAIL {result.name}")
            for f in result.failures:
                typer.echo(f"  {f.expectation}: expected {f.expected}, got {f.actual}")
    invalid = len({e.path for e in [*loaded.errors, *banks.errors]})
    summary = f"{passed} passed, {failed} failed"
    if invalid:
        summary += f"; {_plural(invalid, 'pack file')} invalid"
    typer.echo(summary)
    if invalid:
        raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)


def _load_one(path: Path) -> Pack:
    from sandbox.scenarios.errors import PackErrors
    from sandbox.scenarios.files import size_problem
    from sandbox.scenarios.loader import MAX_PACK_BYTES, load_pack

    if (too_big := size_problem(path, MAX_PACK_BYTES, "a pack")) is not None:
        raise fail(f"{path}: {too_big}")  # refused before it is read into memory
    try:
        return load_pack(path)
    except PackErrors as exc:
        for problem in exc.errors:
            error(str(problem))
        raise fail(f"{path}: the pack is invalid") from None


def _find_scenario(packs: list[Pack], wanted: str | None) -> tuple[Pack, Scenario]:
    choices = [f"{p.id}/{s.id}" for p in packs for s in p.scenarios]
    if wanted is None:
        if len(choices) == 1:
            return packs[0], packs[0].scenarios[0]
        raise fail(f"choose a scenario with --scenario; one of: {', '.join(choices)}")
    pack_id, _, scenario_id = wanted.rpartition("/")
    for pack in packs:
        if pack_id and pack.id != pack_id:
            continue
        for scenario in pack.scenarios:
            if scenario.id == scenario_id:
                return pack, scenario
    raise fail(f"no scenario {wanted!r}; one of: {', '.join(choices)}")


def grade(
    pack_path: Annotated[Path, typer.Argument(metavar="PACK", help="The pack file.")],
    transcript_path: Annotated[Path, typer.Argument(metavar="TRANSCRIPT", help="Transcript JSON.")],
    scenario: Annotated[
        str | None, typer.Option(help="Scenario id; default: the transcript's own.")
    ] = None,
    as_table: Annotated[
        bool, typer.Option("--table", help="Print a table with the evidence instead of JSON.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the grade JSON (the default; kept for scripts).")
    ] = False,
) -> None:
    """Grade a transcript against its scenario's rubric: the grade JSON of the format's
    section 6, or with --table a table for people."""
    from sandbox.evaluator.grading import grade_compiled

    if as_table and as_json:
        raise fail("--table and --json: choose one")
    pack, chosen, transcript = _pack_and_transcript(pack_path, transcript_path, scenario)
    result = grade_compiled(pack.id, pack.compiled[chosen.id], transcript)
    if as_table:
        typer.echo(format_grade(result))
    else:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))


def _pack_and_transcript(
    pack_path: Path, transcript_path: Path, scenario: str | None
) -> tuple[Pack, Scenario, Transcript]:
    """The pack, the transcript's scenario and the transcript, or a clear error."""
    from sandbox.evaluator.transcript import (
        MAX_TRANSCRIPT_BYTES,
        TranscriptError,
        parse_transcript,
    )
    from sandbox.scenarios.files import FileTooLarge, read_at_most

    pack = _load_one(pack_path)
    try:
        raw = read_at_most(transcript_path, MAX_TRANSCRIPT_BYTES)
    except FileTooLarge as exc:
        raise fail(f"{transcript_path}: {exc.message('a transcript')}") from None
    except OSError as exc:
        raise fail(f"{transcript_path}: cannot read: {exc.strerror}") from None
    try:
        transcript = parse_transcript(raw.decode("utf-8"), str(transcript_path))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(
            f"{transcript_path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} "
            f"at offset {exc.start})"
        ) from None
    except TranscriptError as exc:
        raise fail(str(exc)) from None
    if transcript.pack and transcript.pack != pack.id:
        raise fail(
            f"{transcript_path}: the transcript is for pack {transcript.pack!r}, not {pack.id!r}"
        )
    _, chosen = _find_scenario([pack], scenario or transcript.scenario or None)
    return pack, chosen, transcript


PackArg = Annotated[Path, typer.Argument(metavar="PACK", help="The pack file.")]
TranscriptArg = Annotated[Path, typer.Argument(metavar="TRANSCRIPT", help="Transcript JSON.")]
ScenarioOpt = Annotated[
    str | None, typer.Option(help="Scenario id; default: the transcript's own.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def replay(
    pack_path: PackArg,
    transcript_path: TranscriptArg,
    scenario: ScenarioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Play a transcript's trainee lines through the current engine, with each persona
    line's kind (fact, reaction, answer, fallback, nudge, farewell) and the rule behind it."""
    from sandbox.evaluator.explain import replay_lines

    pack, chosen, transcript = _pack_and_transcript(pack_path, transcript_path, scenario)
    lines = replay_lines(pack.compiled[chosen.id], transcript)
    if as_json:
        typer.echo(
            json.dumps(
                {"scenario": f"{pack.id}/{chosen.id}", "messages": lines},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    shown: list[str] = []  # printed at once: all of it or (on a failure) none
    for line in lines:
        who = "trainee"
        if line["role"] != "trainee":
            who = f"persona [{line['kind']}: {line['rule']}]"
        extra = "".join(f" ({k} {line[k]})" for k in ("mood", "end_reason") if k in line)
        shown.append(f"{line['index']:>3} {line['at']:>7.1f}s {who}{extra}: {line['text']}")
    if shown:
        typer.echo("\n".join(shown))


def explain(
    pack_path: PackArg,
    transcript_path: TranscriptArg,
    criterion: Annotated[str, typer.Option(help="The criterion id to explain.")],
    scenario: ScenarioOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show, message by message, why a criterion matched or not: the phrase or concept,
    a negation and its reach, a question where a statement was needed."""
    from sandbox.evaluator.explain import explain_criterion

    pack, chosen, transcript = _pack_and_transcript(pack_path, transcript_path, scenario)
    ids = [c.id for c in chosen.rubric.criteria]
    if criterion not in ids:
        raise fail(f"no criterion {criterion!r} in {pack.id}/{chosen.id}; one of: {', '.join(ids)}")
    result = explain_criterion(pack.id, pack.compiled[chosen.id], transcript, criterion)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    c = result.criterion
    shown = [f"{c.id} ({c.kind}): {result.status}: {result.reason}"]  # printed at once
    for m in result.messages:
        mark = "+" if m.matched else ("-" if m.in_scope else " ")
        scope = "" if m.in_scope else " (out of scope)"
        shown.append(f" {mark} message {m.message}{scope}: {m.text}")
        for f in m.findings:
            via = f" via {f.concept}" if f.concept else ""
            shown.append(f"     [{f.group}] '{f.phrase}'{via} found as '{f.found}': {f.why}")
        if not m.findings:
            shown.append("     none of its phrases occur")
    typer.echo("\n".join(shown))


def format_grade(result: Grade) -> str:
    """A grade as a readable table with the evidence for every verdict."""
    verdict = "passed" if result.passed else "not passed"
    lines = [result.scenario, f"Score {result.score} ({result.band}), {verdict}", ""]
    rows = []
    for r in result.criteria:
        c = r.criterion
        amount = f"-{c.effective_penalty:g}" if c.kind == "forbidden" else f"{c.effective_weight:g}"
        flag = " (critical)" if c.critical else ""
        rows.append([c.id + flag, c.kind, r.status, amount])
    lines.append(table(["criterion", "kind", "status", "weight"], rows))
    evidence = [(r, e) for r in result.criteria for e in r.evidence]
    if evidence:
        lines += ["", "Evidence:"]
        for r, e in evidence:
            lines.append(f"  {r.id}: message {e.message}: {e.text}")
    if result.critical_missed:
        lines.append(f"Critical criteria missed: {', '.join(result.critical_missed)}")
    if result.critical_violated:
        lines.append(f"Critical criteria violated: {', '.join(result.critical_violated)}")
    if result.ignored_messages:
        lines.append(
            "Ignored messages (refused by the engine): "
            + ", ".join(map(str, result.ignored_messages))
        )
    return "\n".join(lines)


def play(
    path: Annotated[Path, typer.Argument(help="A pack file or a folder of packs.")],
    scenario: Annotated[str, typer.Option(help="Scenario id, or PACK/SCENARIO.")],
    save: Annotated[
        Path | None,
        typer.Option(
            help="Write the transcript to this JSON file at the end (its folder must exist; "
            "checked before the session starts)."
        ),
    ] = None,
) -> None:
    """Talk to a persona in the terminal; the grade and its evidence come at the end.

    Type /finish (or end the input) to finish.
    """
    from sandbox.engine.conversation import Conversation
    from sandbox.evaluator.grading import grade_compiled
    from sandbox.evaluator.transcript import parse_transcript_data

    if save is not None:
        writable(save)  # before the session, not after it: nothing typed is lost
    loaded, _, _ = _load([path])
    if loaded.errors:
        for problem in loaded.errors:
            error(str(problem))
        raise fail(f"{path}: invalid pack")
    pack, chosen = _find_scenario(loaded.packs, scenario)
    conversation = Conversation(pack.compiled[chosen.id])
    name = chosen.persona.name
    typer.echo(f"{chosen.title}\n\n{chosen.brief.strip()}\n")
    typer.echo(f"(Time limit {chosen.time_limit_s:g} s. Type /finish to end.)\n")
    typer.echo(f"{name}: {chosen.opening}")
    started = time.monotonic()
    while not conversation.ended:
        typer.echo("> ", nl=False)
        line = sys.stdin.readline()
        at = round(time.monotonic() - started, 3)
        if not line or line.strip() == "/finish":
            conversation.finish(at)
            break
        turn = conversation.receive(line.rstrip("\n"), at)
        if turn.refused_reason == "empty":
            typer.echo("(An empty message is not sent.)")
        elif turn.refused_reason == "timeout":
            typer.echo("(Time is up: the conversation has ended.)")
        for reply in turn.replies:
            typer.echo(f"{name}: {reply.text}")
    data = conversation.transcript(pack.id)
    transcript = parse_transcript_data(data, "<play>")
    result = grade_compiled(pack.id, pack.compiled[chosen.id], transcript)
    typer.echo("\n" + format_grade(result))
    if save is not None:
        try:
            save.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
        except OSError as exc:
            raise fail(f"{save}: cannot write: {exc.strerror}") from None
        typer.echo(f"\nTranscript saved to {save}")


def packs(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Pack files or folders; default: the bundled packs.")
    ] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the scenario table as Markdown.")
    ] = False,
) -> None:
    """List packs and their scenarios."""
    from sandbox.scenarios.bundled import BUNDLED_PACKS
    from sandbox.scenarios.catalogue import scenarios_markdown, trade_of

    loaded, _, _ = _load(paths or [BUNDLED_PACKS])
    for problem in loaded.errors:
        error(str(problem))
    if markdown:
        typer.echo(scenarios_markdown(loaded.packs), nl=False)
    else:
        rows = [
            [f"{p.id}/{s.id}", trade_of(p), p.locale, s.difficulty, len(s.rubric.criteria), s.title]
            for p in loaded.packs
            for s in p.scenarios
        ]
        typer.echo(table(["scenario", "trade", "locale", "difficulty", "criteria", "title"], rows))
    if loaded.errors:
        raise typer.Exit(2)


lexicon_app = typer.Typer(help="The concepts v2 packs refer to as ~id.", no_args_is_help=True)


@lexicon_app.command("show")
def lexicon_show(
    concept: Annotated[str, typer.Argument(metavar="~CONCEPT", help="A concept, as ~id.")],
    locale: Annotated[str | None, typer.Option(help="en or zh-CN; default: both.")] = None,
    lexicon: LexiconOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print what a concept expands to, in each language, and where it is defined."""
    from sandbox.scenarios.lexicon import bundled_lexicon
    from sandbox.text.concepts import ConceptError

    errors: list[PackError] = []
    found = _lexicon(lexicon, errors) or bundled_lexicon()
    if errors:
        for problem in errors:
            error(str(problem))
        raise fail("the lexicon is invalid")
    name = concept.removeprefix("~")
    if name not in found.concepts:
        close = difflib.get_close_matches(name, sorted(found.concepts), n=3)
        hint = f"; did you mean {', '.join('~' + c for c in close)}?" if close else ""
        raise fail(f"no concept '~{name}' in the lexicon{hint}")
    locales = [locale] if locale else ["en", "zh-CN"]
    if locale not in (None, "en", "zh-CN"):
        raise fail(f"--locale must be en or zh-CN, not {locale!r}")
    try:
        expanded = {loc: found.expand([f"~{name}"], loc) for loc in locales}
    except ConceptError as exc:
        raise fail(str(exc)) from None
    entry = found.concepts[name]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "concept": name,
                    "description": entry.description,
                    "source": entry.source,
                    "phrases": expanded,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    typer.echo(f"~{name}: {entry.description} ({entry.source})")
    for loc, phrases in expanded.items():
        typer.echo(f"  {loc} ({len(phrases)}): {', '.join(phrases)}")


@lexicon_app.command("list")
def lexicon_list(lexicon: LexiconOpt = None) -> None:
    """List every concept with its description."""
    from sandbox.scenarios.lexicon import bundled_lexicon

    errors: list[PackError] = []
    found = _lexicon(lexicon, errors) or bundled_lexicon()
    for problem in errors:
        error(str(problem))
    if errors:
        raise fail("the lexicon is invalid")
    for cid in sorted(found.concepts):
        typer.echo(f"~{cid}\t{found.concepts[cid].description}")


def register(app: typer.Typer) -> None:
    """Add the pack commands to the `sandbox` app."""
    app.add_typer(lexicon_app, name="lexicon")
    app.command()(validate)
    app.command()(test)
    app.command()(grade)
    app.command()(replay)
    app.command()(explain)
    app.command()(play)
    app.command()(packs)
