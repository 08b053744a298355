"""Read question banks from YAML: the packs' limits and safe parsing, every problem with its
line (`FILE:LINE: message`, as `sandbox validate` prints it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from sandbox.questions.models import Bank, Question
from sandbox.scenarios.errors import PackError, PackErrors
from sandbox.scenarios.files import FileTooLarge, pack_files, read_at_most
from sandbox.scenarios.loader import MAX_PACK_BYTES, _describe, _from_validation
from sandbox.scenarios.models import MatcherSpec
from sandbox.scenarios.yamlnodes import Document, Path, YamlError, read_yaml
from sandbox.text.concepts import ConceptError, Lexicon
from sandbox.text.matcher import PhraseError

NOT_A_BANK = (
    "not a question bank: a bank is a mapping with the keys 'bank' and 'questions' "
    "(nothing of this file is shown)"
)


def is_bank_text(head: bytes) -> bool:
    """Whether a YAML file's start looks like a question bank (a top-level `bank:` key); a
    UTF-8 byte-order mark before it is allowed, as the loader allows it."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    return any(line.startswith((b"bank:", b'"bank":', b"'bank':")) for line in head.splitlines())


def load_bank(path: str | FsPath, lexicon: Lexicon | None = None) -> Bank:
    """Load one bank file; raise `PackErrors` naming every problem."""
    name = str(path)
    try:
        raw = read_at_most(path, MAX_PACK_BYTES)  # never more than the limit in memory
    except FileTooLarge as exc:
        raise PackErrors([PackError(name, None, None, exc.message("a bank"))]) from None
    except OSError as exc:
        raise PackErrors([PackError(name, None, None, f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        raise PackErrors([PackError(name, line, None, message)]) from None
    return load_bank_text(text.removeprefix("\ufeff"), name, lexicon)


def load_bank_text(text: str, source: str = "<bank>", lexicon: Lexicon | None = None) -> Bank:
    """Load a bank from YAML text; `source` names it in messages."""
    try:
        doc = read_yaml(text)
    except YamlError as exc:
        message = exc.message
        if exc.quotes and not is_bank_text(text.encode()):
            message = NOT_A_BANK
        raise PackErrors([PackError(source, exc.line, exc.key, message)]) from None
    return load_bank_data(doc, source, lexicon)


def load_bank_data(doc: Document, source: str, lexicon: Lexicon | None = None) -> Bank:
    """A bank from YAML already read (`doc`, with its lines); `PackErrors` on any problem."""
    if not isinstance(doc.data, dict) or "bank" not in doc.data:
        raise PackErrors([PackError(source, doc.line_of(()), None, NOT_A_BANK)])
    errors = [PackError(source, p.line, p.key, p.message) for p in doc.problems]
    try:
        bank = Bank.model_validate(doc.data)
    except ValidationError as exc:
        errors.extend(_from_validation(exc, doc, source, Bank))
        raise PackErrors(errors) from None
    errors.extend(check_bank(bank, doc, source, lexicon))
    if errors:
        raise PackErrors(errors)
    bank._source = source
    return bank


def check_bank(
    bank: Bank, doc: Document, source: str, lexicon: Lexicon | None = None
) -> list[PackError]:
    """The rules that span a question: what each type needs, ids, matcher phrases.

    Compiles each short answer's matcher (format v2 reading, the bundled lexicon unless
    `lexicon` is given) and sets the bank's locale and trade on every question.
    """
    errors: list[PackError] = []

    def add(path: Path, message: str) -> None:
        errors.append(
            PackError(
                source,
                doc.line_of(path),
                ".".join(map(str, path)),
                f"{_describe(path, doc.data)}: {message}",
            )
        )

    locale = bank.locale
    seen: set[str] = set()
    for qi, question in enumerate(bank.questions):
        base: Path = ("questions", qi)
        if question.id in seen:
            add((*base, "id"), f"duplicate question id {question.id!r}")
        seen.add(question.id)
        question._locale = locale
        question._trade = bank.bank.trade
        question._bank = bank.id
        _check_question(question, base, add)
    if errors:
        return errors
    for qi, question in enumerate(bank.questions):
        if question.match is not None:
            _compile(question, ("questions", qi), add, locale, lexicon)
    return errors


def _not_for(question: Question, base: Path, add: Any, keys: Iterable[str]) -> None:
    defaults: dict[str, Any] = {
        "options": None,
        "answer": None,
        "match": None,
        "examples": [],
        "manual": False,
        "model_answer": None,
    }
    for key in keys:
        if getattr(question, key) != defaults[key]:
            add((*base, key), f"{key!r} does not belong to a {question.type!r} question")


def _check_question(question: Question, base: Path, add: Any) -> None:
    kind = question.type
    if kind in ("single", "multiple"):
        _not_for(question, base, add, ("answer", "match", "examples", "manual", "model_answer"))
        options = question.options
        if options is None:
            add(base, f"a {kind!r} question needs 'options' (at least two)")
            return
        if len(options) < 2:
            add((*base, "options"), f"needs at least two options, got {len(options)}")
        if len(options) > 8:
            add((*base, "options"), f"at most 8 options, got {len(options)}")
        texts = [o.text.strip() for o in options]
        for i, text in enumerate(texts):
            if text in texts[:i]:
                add((*base, "options", i), f"the option {text!r} is given twice")
        right = sum(o.correct for o in options)
        if kind == "single" and right != 1:
            add(
                (*base, "options"),
                f"a 'single' question needs exactly one option with 'correct: true', got {right}",
            )
        if kind == "multiple" and right < 1:
            add((*base, "options"), "a 'multiple' question needs at least one correct option")
    elif kind == "true_false":
        _not_for(question, base, add, ("options", "match", "examples", "manual", "model_answer"))
        if question.answer is None:
            add(base, "a 'true_false' question needs 'answer: true' or 'answer: false'")
    else:
        _not_for(question, base, add, ("options", "answer"))
        if question.manual:
            if question.match is not None:
                add((*base, "match"), "a 'manual: true' question is marked by a person: no 'match'")
            if question.examples:
                add((*base, "examples"), "a 'manual: true' question has no 'examples'")
            if question.model_answer is None:
                add(base, "a 'manual: true' question needs 'model_answer' for its marker")
        else:
            if question.match is None:
                add(base, "a 'short' question needs 'match' rules, or 'manual: true'")
            if not any(e.correct for e in question.examples):
                add(
                    (*base, "examples") if question.examples else base,
                    "a 'short' question with 'match' needs 'examples', at least one with "
                    "'correct: true' (they are its self-tests: `sandbox test`)",
                )


def _compile(question: Question, base: Path, add: Any, locale: str, given: Lexicon | None) -> None:
    from sandbox.scenarios.lexicon import bundled_lexicon
    from sandbox.text.phrases import V2Compiler, compile_phrase

    spec: MatcherSpec | None = question.match
    assert spec is not None
    lexicon = given if given is not None else bundled_lexicon()
    ok = True
    groups: list[tuple[Path, list[str]]] = [((*base, "match", "any"), spec.any)]
    groups.append(((*base, "match", "not"), spec.not_))
    groups += [((*base, "match", "all", g), group) for g, group in enumerate(spec.all)]
    for path, phrases in groups:
        for k, phrase in enumerate(phrases):
            try:
                for plain in lexicon.expand([phrase], locale):
                    compile_phrase(plain, locale)
            except (ConceptError, PhraseError) as exc:
                add((*path, k), str(exc))
                ok = False
    if ok:
        question._matcher = V2Compiler(lexicon, locale, None).compile(spec.any, spec.all, spec.not_)
        if locale != "en":
            from sandbox.text.segmenter import add_domain_words

            add_domain_words(lexicon.words(locale))


@dataclass
class BankSet:
    """Banks loaded from several places; broken files are listed, not fatal."""

    banks: list[Bank] = field(default_factory=list)
    errors: list[PackError] = field(default_factory=list)
    files: int = 0

    @property
    def questions(self) -> dict[str, Question]:
        """Every question by id, in bank then file order."""
        return {q.id: q for b in self.banks for q in b.questions}


def load_banks(paths: Iterable[str | FsPath], lexicon: Lexicon | None = None) -> BankSet:
    """Load every bank in `paths`; a bank or question id seen twice is an error on the later
    file (question ids are unique over every bank: an exam and a quiz name questions by id)."""
    result = BankSet()
    banks: dict[str, str] = {}
    questions: dict[str, str] = {}
    for path, refused in pack_files(paths):
        result.files += 1
        if refused is not None:
            result.errors.append(refused)
            continue
        try:
            bank = load_bank(path, lexicon)
        except PackErrors as exc:
            result.errors.extend(exc.errors)
            continue
        name = str(path)
        clash: list[PackError] = []
        if bank.id in banks:
            clash.append(
                PackError(
                    name,
                    None,
                    "bank.id",
                    f"bank id {bank.id!r} is already used by {banks[bank.id]}",
                )
            )
        for question in bank.questions:
            if question.id in questions:
                clash.append(
                    PackError(
                        name,
                        None,
                        "questions",
                        f"question id {question.id!r} is already used by {questions[question.id]}",
                    )
                )
        if clash:
            lines = _id_lines(path)
            result.errors.extend(
                PackError(e.path, lines.get(e.message.split("'")[1]), e.key, e.message)
                for e in clash
            )
            continue
        banks[bank.id] = name
        questions.update((q.id, name) for q in bank.questions)
        result.banks.append(bank)
    return result


def _id_lines(path: FsPath) -> dict[str, int]:
    """The line of each id (the bank's and its questions') in a file that just loaded."""
    try:
        doc = read_yaml(path.read_text("utf-8-sig"))
    except (OSError, UnicodeDecodeError, YamlError):  # pragma: no cover - it just loaded
        return {}
    lines: dict[str, int] = {}
    data = doc.data
    line = doc.line_of(("bank", "id"))
    if line is not None:
        lines[str(data["bank"]["id"])] = line
    for i, q in enumerate(data.get("questions") or []):
        line = doc.line_of(("questions", i, "id"))
        if line is not None and isinstance(q, dict):
            lines[str(q.get("id"))] = line
    return lines
