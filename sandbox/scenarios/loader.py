"""Read packs from YAML: size and encoding limits, safe parsing, every problem with its line."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from sandbox.scenarios.errors import PackError, PackErrors
from sandbox.scenarios.files import pack_files
from sandbox.scenarios.models import MatcherSpec, Pack, Scenario
from sandbox.scenarios.yamlnodes import Document, Path, YamlError, read_yaml
from sandbox.scenarios.yamlnodes import yaml_type as _yaml_type
from sandbox.text.concepts import LANGS, SLOT, TOPIC, Lexicon
from sandbox.text.matcher import Phrase, PhraseError

MAX_PACK_BYTES = 1024 * 1024


# --- entry points -------------------------------------------------------------------------


def load_pack(path: str | FsPath, lexicon: Lexicon | None = None) -> Pack:
    """Load one pack file; raise `PackErrors` naming every problem."""
    name = str(path)
    try:
        raw = FsPath(path).read_bytes()
    except OSError as exc:
        raise PackErrors([PackError(name, None, None, f"cannot read: {exc.strerror}")]) from None
    return load_pack_bytes(raw, name, lexicon)


def load_pack_bytes(raw: bytes, source: str, lexicon: Lexicon | None = None) -> Pack:
    """Load a pack from the bytes of a file: at most 1 MiB, UTF-8."""
    if len(raw) > MAX_PACK_BYTES:
        raise PackErrors(
            [
                PackError(
                    source,
                    None,
                    None,
                    f"file is {len(raw):,} bytes; a pack may be at most {MAX_PACK_BYTES:,}",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PackErrors(
            [
                PackError(
                    source,
                    line,
                    None,
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                )
            ]
        ) from None
    return load_pack_text(text.removeprefix("\ufeff"), source, lexicon)


NOT_A_PACK = (
    "not a pack: a pack is a mapping with the keys 'pack' and 'scenarios' "
    "(nothing of this file is shown)"
)
# A top-level `pack:` or `scenarios:` key, at the start of a line, quoted or not.
_PACK_KEY_LINE = re.compile(r"""^(["']?)(pack|scenarios)\1[ \t]*:""", re.MULTILINE)


def _is_pack(data: Any) -> bool:
    return isinstance(data, dict) and ("pack" in data or "scenarios" in data)


def load_pack_text(text: str, source: str = "<pack>", lexicon: Lexicon | None = None) -> Pack:
    """Load a pack from YAML text; `source` names it in messages.

    A v2 pack's concepts come from `lexicon` (default: the bundled one) and its own.

    A file that is not a pack at all (no top-level `pack` or `scenarios` key: a config file,
    a list, plain text) gets one message that repeats none of its text, so pointing the
    loader at another file never prints that file's keys, values or lines.
    """
    try:
        doc = read_yaml(text)
    except YamlError as exc:
        message = exc.message
        if exc.quotes and not _PACK_KEY_LINE.search(text):
            message = NOT_A_PACK
        raise PackErrors([PackError(source, exc.line, exc.key, message)]) from None
    if not _is_pack(doc.data):
        raise PackErrors([PackError(source, doc.line_of(()), None, NOT_A_PACK)])
    errors = [PackError(source, p.line, p.key, p.message) for p in doc.problems]
    try:
        pack = Pack.model_validate(doc.data)
    except ValidationError as exc:
        errors.extend(_from_validation(exc, doc, source))
        raise PackErrors(errors) from None
    errors.extend(_cross_check(pack, doc, source))
    if not errors and pack.format == 2:
        found = _v2_lexicon(pack, doc, source, errors, lexicon)
        if not errors:
            pack._lexicon = found
    if errors:
        raise PackErrors(errors)
    pack._source = source
    return pack


def _v2_lexicon(
    pack: Pack, doc: Document, source: str, errors: list[PackError], given: Lexicon | None
) -> Lexicon:
    """A v2 pack's lexicon (the bundled one and its own `concepts`); every `~id` checked."""
    from sandbox.scenarios.lexicon import bundled_lexicon, check_phrases, read_concepts
    from sandbox.text.concepts import ConceptError, check_slots
    from sandbox.text.phrases import compile_phrase

    lexicon = given if given is not None else bundled_lexicon()
    broken: set[str] = set()
    if pack.concepts:
        own, problems, sites = read_concepts(
            {k: v.model_dump(exclude_none=True) for k, v in pack.concepts.items()},
            source,
            doc.line_of,
            ("concepts",),
        )
        lexicon = lexicon.merged(own, local=True)
        problems += check_phrases(lexicon, sites)
        errors.extend(problems)
        # A concept whose phrases were refused is reported once, not again where it is used.
        broken = {e.key.split(".")[1] for e in problems if e.key and e.key.count(".")}

    def check(
        path: Path, phrases: list[str], local: dict[str, tuple[str, ...]], topic: bool = False
    ) -> None:
        for k, phrase in enumerate(phrases):
            at = (*path, k)
            try:
                check_slots(phrase, pack.locale)
                if topic and TOPIC in SLOT.findall(phrase):
                    raise ConceptError("a scenario's `topic` cannot name ~topic itself")
                plain = lexicon.expand([phrase], pack.locale, local)
                if not plain:
                    empty = _empty_concept(lexicon, phrase, pack.locale, local)
                    lang = LANGS.get(pack.locale, "en")
                    raise ConceptError(f"concept '~{empty}' has no {lang} phrases")
                for one in plain:
                    compile_phrase(one, pack.locale)
            except (ConceptError, PhraseError) as exc:
                if broken.intersection(SLOT.findall(phrase)):
                    continue  # the concept's own error says it
                errors.append(
                    PackError(
                        source,
                        doc.line_of(at),
                        ".".join(map(str, at)),
                        f"{_describe(at, doc.data)}: {exc}",
                    )
                )

    for si, scenario in enumerate(pack.scenarios):
        base: Path = ("scenarios", si)
        local = {TOPIC: tuple(scenario.topic)} if scenario.topic else {}
        if scenario.topic:
            check((*base, "topic"), scenario.topic, {}, topic=True)
        specs: list[tuple[Path, MatcherSpec | None]] = [((*base, "ends_when"), scenario.ends_when)]
        specs += [
            ((*base, "facts", i, "asked_by"), f.asked_by) for i, f in enumerate(scenario.facts)
        ]
        specs += [
            ((*base, "reactions", i, "when"), r.when) for i, r in enumerate(scenario.reactions)
        ]
        specs += [
            ((*base, "rubric", "criteria", i, "match"), c.match)
            for i, c in enumerate(scenario.rubric.criteria)
        ]
        specs += [
            ((*base, "answers", i, "when"), a.when) for i, a in enumerate(scenario.answers or ())
        ]
        for path, spec in specs:
            if spec is None:
                continue
            check((*path, "any"), spec.any, local)
            check((*path, "not"), spec.not_, local)
            for g, group in enumerate(spec.all):
                check((*path, "all", g), group, local)
    return lexicon


def _empty_concept(
    lexicon: Lexicon, phrase: str, locale: str, local: dict[str, tuple[str, ...]]
) -> str:
    """The concept that makes a phrase stand for no phrase of the locale: one it names that
    has none there."""
    names: list[str] = SLOT.findall(phrase)
    return next((n for n in names if not lexicon.expand([f"~{n}"], locale, local)), names[0])


@dataclass
class PackSet:
    """Packs loaded from several places; broken files are listed, not fatal."""

    packs: list[Pack] = field(default_factory=list)
    errors: list[PackError] = field(default_factory=list)
    files: int = 0

    def find(self, pack_id: str) -> Pack | None:
        return next((p for p in self.packs if p.id == pack_id), None)


def load_packs(paths: Iterable[str | FsPath], lexicon: Lexicon | None = None) -> PackSet:
    """Load every pack in `paths`; a pack id seen twice is an error on the later file."""
    result = PackSet()
    seen: dict[str, str] = {}
    for path, refused in pack_files(paths):
        result.files += 1
        if refused is not None:
            result.errors.append(refused)
            continue
        try:
            pack = load_pack(path, lexicon)
        except PackErrors as exc:
            result.errors.extend(exc.errors)
            continue
        if pack.id in seen:
            message = f"pack id {pack.id!r} is already used by {seen[pack.id]}"
            result.errors.append(PackError(str(path), _pack_id_line(path), "pack.id", message))
            continue
        seen[pack.id] = str(path)
        result.packs.append(pack)
    return result


def _pack_id_line(path: FsPath) -> int | None:
    """The line of the `id` under `pack:` in a file that has just loaded without errors."""
    try:
        return read_yaml(path.read_text("utf-8-sig")).line_of(("pack", "id"))
    except (OSError, UnicodeDecodeError, YamlError):  # pragma: no cover - it just loaded
        return None


# --- pydantic errors, made readable -------------------------------------------------------

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _clean_loc(loc: tuple[int | str, ...]) -> Path:
    # Validators add pseudo-steps such as "function-before[...]"; they are not keys.
    return tuple(p for p in loc if isinstance(p, int) or "[" not in p)


def _model_at(names: Iterable[str], root: type[BaseModel] = Pack) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for name in names:
        if model is None:
            return None
        info = next(
            (f for n, f in model.model_fields.items() if n == name or f.alias == name), None
        )
        model = _model_in(info.annotation) if info is not None else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _keys_of(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


_SINGULAR = {
    "scenarios": "scenario",
    "facts": "fact",
    "reactions": "reaction",
    "criteria": "criterion",
    "examples": "example",
    "questions": "question",
}


def _describe(path: Path, data: Any) -> str:
    """A readable name for a path: `scenario 'x' › criterion 'y' › weight`."""
    parts: list[str] = []
    node = data
    for step in path:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            label = item.get("id") or item.get("name") if isinstance(item, dict) else None
            if label is not None and isinstance(label, str) and parts:
                parts[-1] = f"{_SINGULAR.get(parts[-1], parts[-1])} {label!r}"
            elif parts:
                parts[-1] = f"{parts[-1]}[{step}]"
            node = item
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return " › ".join(parts) or "pack file"


def _from_validation(
    exc: ValidationError, doc: Document, source: str, root: type[BaseModel] = Pack
) -> list[PackError]:
    """Pydantic's errors as `PackError`s with lines; `root` is the model of the file."""
    errors: list[PackError] = []
    for err in exc.errors():
        path = _clean_loc(err["loc"])
        kind = err["type"]
        names = [p for p in path if isinstance(p, str)]
        where = _describe(path, doc.data)
        if kind == "missing":
            parent = _describe(path[:-1], doc.data)
            message = f"{parent}: missing required key {path[-1]!r}"
            line = doc.line_of(path[:-1])
        elif kind == "extra_forbidden":
            key = str(path[-1])
            allowed = _keys_of(_model_at(names[:-1], root))
            near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = (
                f" (did you mean {near[0]!r}?)"
                if near
                else (f" (expected one of: {', '.join(allowed)})" if allowed else "")
            )
            message = f"{where}: unknown key {key!r}{hint}"
            line = doc.line_of(path)
        elif kind in _TYPE_NAMES:
            got = err["input"]
            # A number that is not whole is shown as written ("got 1.5"), not "a number".
            shown = repr(got) if kind == "int_type" and type(got) is float else _yaml_type(got)
            message = f"{where}: expected {_TYPE_NAMES[kind]}, got {shown}"
            if isinstance(err["input"], bool) and kind != "bool_type":
                message += " (YAML reads yes, no, on, off, true and false as booleans: quote them)"
            line = doc.line_of(path)
        elif kind == "string_pattern_mismatch":
            message = f"{where}: {err['input']!r} is not a valid id (use a-z, 0-9 and -)"
            line = doc.line_of(path)
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            message = f"{where}: {err['input']!r} is not allowed; expected {expected}"
            line = doc.line_of(path)
        elif kind == "value_error":
            message = f"{where}: {err['msg'].removeprefix('Value error, ')}"
            line = doc.line_of(path)
        elif kind == "criterion_rule":
            # Point at the key the rule is about (the `weight:` line, say) when it has one.
            ctx = err.get("ctx", {})
            about = ctx.get("key")
            message = f"{where}: {ctx.get('message', err['msg'])}"
            line = doc.line_of((*path, about) if isinstance(about, str) else path)
        elif kind in _BOUNDS:
            bound, word = _BOUNDS[kind]
            limit = err.get("ctx", {}).get(bound)
            shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
            message = f"{where}: must be {word} {shown}, got {err['input']!r}"
            line = doc.line_of(path)
        elif kind == "too_short":
            message = f"{where}: needs at least one entry"
            line = doc.line_of(path)
        else:
            message = f"{where}: {err['msg'][0].lower()}{err['msg'][1:]}"
            line = doc.line_of(path)
        errors.append(PackError(source, line, ".".join(map(str, path)) or None, message))
    return errors


# --- rules that span the pack -------------------------------------------------------------


def _cross_check(pack: Pack, doc: Document, source: str) -> list[PackError]:
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

    if pack.format == 1:
        # What v2 adds is an error in a v1 pack, as any key the format does not know.
        hint = "belongs to format 2: add 'format: 2' under 'pack' (docs/format-v2.md)"
        if pack.concepts is not None:
            add(("concepts",), f"'concepts' {hint}")
        for si, scenario in enumerate(pack.scenarios):
            if scenario.topic is not None:
                add(("scenarios", si, "topic"), f"'topic' {hint}")
            if scenario.answers is not None:
                add(("scenarios", si, "answers"), f"'answers' {hint}")
            for ri, reaction in enumerate(scenario.reactions):
                if reaction.negation is not None:
                    add(("scenarios", si, "reactions", ri, "negation"), f"'negation' {hint}")
                if reaction.act is not None:
                    add(("scenarios", si, "reactions", ri, "act"), f"'act' {hint}")
            for ci, criterion in enumerate(scenario.rubric.criteria):
                if criterion.going_along is not None:
                    path = ("scenarios", si, "rubric", "criteria", ci, "going_along")
                    add(path, f"'going_along' {hint}")
    seen_scenarios: set[str] = set()
    for si, scenario in enumerate(pack.scenarios):
        base: Path = ("scenarios", si)
        if scenario.id in seen_scenarios:
            add((*base, "id"), f"duplicate scenario id {scenario.id!r}")
        seen_scenarios.add(scenario.id)
        _check_scenario(scenario, pack.locale, base, add, pack.format == 2)
    return errors


def _check_scenario(
    scenario: Scenario, locale: str, base: Path, add: Any, v2: bool = False
) -> None:
    facts = {f.id for f in scenario.facts}
    step_ids: set[str] = set()
    steps = [("facts", i, f.id) for i, f in enumerate(scenario.facts)]
    steps += [("reactions", i, r.id) for i, r in enumerate(scenario.reactions)]
    for key, i, step_id in steps:
        if step_id in step_ids:
            add(
                (*base, key, i, "id"),
                f"duplicate id {step_id!r} (facts and reactions share one set of ids)",
            )
        step_ids.add(step_id)
    all_steps = facts | {r.id for r in scenario.reactions}

    def refs(path: Path, ids: str | list[str], allowed: set[str], what: str) -> None:
        for j, ref in enumerate([ids] if isinstance(ids, str) else ids):
            if ref not in allowed:
                known = difflib.get_close_matches(ref, sorted(allowed), n=1)
                hint = f" (did you mean {known[0]!r}?)" if known else ""
                add(
                    path if isinstance(ids, str) else (*path, j),
                    f"{ref!r} is not the id of any {what} in this scenario{hint}",
                )

    def matcher(path: Path, spec: MatcherSpec | None) -> None:
        if spec is None:
            return
        groups: list[tuple[Path, list[str]]] = [
            ((*path, "any"), spec.any),
            ((*path, "not"), spec.not_),
        ]
        groups += [((*path, "all", g), group) for g, group in enumerate(spec.all)]
        for gpath, phrases in groups:
            for k, phrase in enumerate(phrases):
                try:
                    Phrase.check(phrase, locale)
                except PhraseError as exc:
                    add((*gpath, k), str(exc))

    for i, fact in enumerate(scenario.facts):
        refs((*base, "facts", i, "requires"), fact.requires, all_steps, "fact or reaction")
        matcher((*base, "facts", i, "asked_by"), fact.asked_by)
    for i, reaction in enumerate(scenario.reactions):
        path = (*base, "reactions", i)
        refs((*path, "requires"), reaction.requires, all_steps, "fact or reaction")
        refs((*path, "reveals"), reaction.reveals, facts, "fact")
        matcher((*path, "when"), reaction.when)
    if v2:  # v1 lists its errors (section 1); a step that never happens is not one of them
        _check_requirements(scenario, base, add)
    matcher((*base, "ends_when"), scenario.ends_when)

    criteria: set[str] = set()
    for i, criterion in enumerate(scenario.rubric.criteria):
        path = (*base, "rubric", "criteria", i)
        if criterion.id in criteria:
            add((*path, "id"), f"duplicate criterion id {criterion.id!r}")
        criteria.add(criterion.id)
        matcher((*path, "match"), criterion.match)
        if criterion.applies_if_revealed is not None:
            refs((*path, "applies_if_revealed"), criterion.applies_if_revealed, facts, "fact")
        if criterion.revealed is not None:
            refs((*path, "revealed"), criterion.revealed, facts, "fact")
        if criterion.going_along is not None:
            refs(
                (*path, "going_along"),
                criterion.going_along,
                {"opening"} | all_steps,
                "customer line ('opening', a fact or a reaction)",
            )

    for i, example in enumerate(scenario.examples):
        path = (*base, "examples", i)
        last = -1.0
        for j, line in enumerate(example.trainee):
            if line.at is not None:
                if line.at < last:
                    add(
                        (*path, "trainee", j, "at"),
                        f"times must not decrease ({line.at:g} comes after {last:g})",
                    )
                last = line.at
            else:
                last = last + 10 if last >= 0 else 10
        expect = example.expect
        for key in ("met", "missed", "violated", "not_applicable"):
            ids = getattr(expect, key)
            if ids:
                refs((*path, "expect", key), ids, criteria, "criterion")
        if expect.revealed:
            refs((*path, "expect", "revealed"), expect.revealed, facts, "fact")


def _check_requirements(scenario: Scenario, base: Path, add: Any) -> None:
    """Format v2: no fact or reaction requires itself, and requirements go round in no
    circle: such steps could never happen (docs/format-v2.md). A fact that a reaction
    `reveals` can happen whatever its own `requires` (section 4), so it breaks a circle.
    Each circle is reported once, at the `requires` entry of its first step in file order."""
    revealed = {fact_id for r in scenario.reactions for fact_id in r.reveals}
    steps: dict[str, tuple[Path, list[str]]] = {}
    written = [("facts", i, f.id, f.requires) for i, f in enumerate(scenario.facts)]
    written += [("reactions", i, r.id, r.requires) for i, r in enumerate(scenario.reactions)]
    for key, i, step_id, requires in written:
        if key == "facts" and step_id in revealed:
            continue
        steps.setdefault(step_id, ((*base, key, i, "requires"), requires))
    reported: set[str] = set()
    for start, (path, requires) in steps.items():
        if start in reported:
            continue
        if start in requires:
            message = f"{start!r} requires itself, so it can never happen"
            add((*path, requires.index(start)), message)
            reported.add(start)
            continue
        circle = _circle_from(start, steps)
        if circle is None or reported.intersection(circle):
            continue
        reported.update(circle)
        shown = " -> ".join(repr(s) for s in (*circle, start))
        add(
            (*path, requires.index(circle[1])),
            f"requirements go round in a circle: {shown}, so none of them can ever happen",
        )


def _circle_from(start: str, steps: dict[str, tuple[Path, list[str]]]) -> list[str] | None:
    """The ids of a shortest circle of `requires` from `start` back to it, or None."""
    trail: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in steps.get(node, ((), []))[1]:
            if nxt == start and node != start:
                circle = [node]
                while (before := trail[circle[-1]]) is not None:
                    circle.append(before)
                return circle[::-1]
            if nxt not in trail and nxt in steps:
                trail[nxt] = node
                queue.append(nxt)
    return None
