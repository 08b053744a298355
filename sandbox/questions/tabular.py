"""Question banks as table rows, for CSV and XLSX import and export (the CLI reads and
writes the files; this module turns rows into a bank and back, and names each problem by
its row).

One row per question, the first row naming the columns (any order; unknown columns are an
error, missing optional ones are empty):

- `id`, `type`, `prompt`, `explanation` (required); `difficulty`, `tags` (separated by
  spaces or commas), `points`;
- `options`: the options separated by ` | `; `correct`: the numbers of the correct options
  (1 is the first, several separated by commas), or `true`/`false` for a true/false question;
- `match`: short-answer phrases separated by ` | ` (any of them), or a matcher as JSON
  (`{"all": [["~wait"], ["months"]]}`); `examples_right`, `examples_wrong`: answers separated
  by ` | `; `manual` (`yes` or empty); `model_answer`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from sandbox.questions.loader import load_bank_data, load_bank_text
from sandbox.questions.models import Bank
from sandbox.scenarios.errors import PackError, PackErrors
from sandbox.scenarios.yamlnodes import Document

COLUMNS = (
    "id",
    "type",
    "difficulty",
    "tags",
    "points",
    "prompt",
    "options",
    "correct",
    "match",
    "examples_right",
    "examples_wrong",
    "manual",
    "model_answer",
    "explanation",
)
REQUIRED = ("id", "type", "prompt", "explanation")
SEPARATOR = " | "
MAX_ROWS = 5000
MAX_MATCH_DEPTH = 10  # a matcher is a few levels deep: {"all": [["a", "b"], ["c"]]}

TEMPLATE_ROWS = [
    {
        "id": "example-single",
        "type": "single",
        "difficulty": "easy",
        "tags": "interactions hypertension",
        "points": "1",
        "prompt": "A customer with high blood pressure asks for a cold remedy. "
        "Which ingredient do you warn about?",
        "options": "Pseudoephedrine | Saline spray | Honey lozenges",
        "correct": "1",
        "explanation": "Decongestants can raise blood pressure.",
    },
    {
        "id": "example-short",
        "type": "short",
        "difficulty": "medium",
        "tags": "dosage paracetamol",
        "prompt": "What is the adult daily maximum of paracetamol?",
        "match": "4 g | four grams | 4000 mg",
        "examples_right": "No more than 4 g a day",
        "examples_wrong": "As much as you like",
        "model_answer": "4 g a day",
        "explanation": "The adult maximum is 4 g a day.",
    },
]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split("|") if part.strip()]


def _depth(value: Any) -> int:
    """How deep lists and mappings nest in a JSON value (counted no further than the limit)."""
    level, layer = 0, [value]
    while level <= MAX_MATCH_DEPTH:
        containers = [v for v in layer if isinstance(v, dict | list)]
        if not containers:
            break
        level += 1
        layer = [x for c in containers for x in (c.values() if isinstance(c, dict) else c)]
    return level


def _header_problems(names: list[str], source: str) -> list[PackError]:
    """A column named twice in the header row (the second copy would hide the first)."""
    first: dict[str, int] = {}
    errors: list[PackError] = []
    for k, name in enumerate(names, start=1):
        if not name:
            continue
        if name in first:
            message = f"column {name!r} is named twice (columns {first[name]} and {k})"
            errors.append(PackError(source, 1, None, message))
        else:
            first.setdefault(name, k)
    return errors


def _stray_cells(
    names: list[str], number: int, cells: Sequence[str], source: str
) -> list[PackError]:
    """Values that no column of the header names: past its last column, or under a blank
    header cell (they would be dropped without a word)."""
    errors: list[PackError] = []
    extra = [k for k in range(len(names), len(cells)) if cells[k].strip()]
    if extra:
        errors.append(
            PackError(
                source,
                number,
                None,
                f"{len(cells)} cells, but the header names {len(names)} columns "
                f"(a value in column {extra[0] + 1}); remove the extra cells, or quote a "
                "cell that holds a comma",
            )
        )
    for k, name in enumerate(names[: len(cells)]):
        if not name and cells[k].strip():
            errors.append(
                PackError(
                    source,
                    number,
                    None,
                    f"column {k + 1} has no name in the header, but this row has a value there",
                )
            )
    return errors


def _row_question(cells: dict[str, str], add: Any) -> dict[str, Any]:
    """One row as a question mapping, problems of its cells reported through `add`."""
    q: dict[str, Any] = {k: cells[k].strip() for k in ("id", "type", "prompt", "explanation")}
    kind = q["type"]
    if cells.get("difficulty", "").strip():
        q["difficulty"] = cells["difficulty"].strip()
    tags = cells.get("tags", "").replace(",", " ").split()
    if tags:
        q["tags"] = tags
    points = cells.get("points", "").strip()
    if points:
        try:
            q["points"] = float(points)
        except ValueError:
            add(f"points: {points!r} is not a number")
    correct = cells.get("correct", "").strip()
    options = _split(cells.get("options", ""))
    if options:
        wanted: set[int] = set()
        for part in correct.replace(" ", "").split(","):
            if not part:
                continue
            if not part.isdigit() or not 1 <= int(part) <= len(options):
                add(f"correct: {part!r} is not the number of an option (1 to {len(options)})")
                continue
            wanted.add(int(part) - 1)
        q["options"] = [
            {"text": text, "correct": True} if i in wanted else {"text": text}
            for i, text in enumerate(options)
        ]
    elif kind == "true_false":
        value = correct.lower()
        if value in ("true", "false"):
            q["answer"] = value == "true"
        elif value:
            add(f"correct: a true/false question's answer is true or false, not {correct!r}")
    elif correct:
        add("correct: only a question with options or a true/false question has one")
    match = cells.get("match", "").strip()
    if match.startswith("{"):
        try:
            value = json.loads(match)
        except json.JSONDecodeError as exc:
            add(f"match: not valid JSON ({exc.msg})")
        except (RecursionError, ValueError):
            add(f"match: JSON nested more than {MAX_MATCH_DEPTH} levels deep")
        else:
            if _depth(value) > MAX_MATCH_DEPTH:
                add(f"match: JSON nested more than {MAX_MATCH_DEPTH} levels deep")
            else:
                q["match"] = value
    elif match:
        q["match"] = _split(match)
    examples = [{"answer": a, "correct": True} for a in _split(cells.get("examples_right", ""))]
    examples += [{"answer": a, "correct": False} for a in _split(cells.get("examples_wrong", ""))]
    if examples:
        q["examples"] = examples
    manual = cells.get("manual", "").strip().lower()
    if manual in ("yes", "true", "1"):
        q["manual"] = True
    elif manual not in ("", "no", "false", "0"):
        add(f"manual: {manual!r} is not yes or no")
    if cells.get("model_answer", "").strip():
        q["model_answer"] = cells["model_answer"].strip()
    return q


def bank_from_rows(
    header: Sequence[str],
    rows: Sequence[tuple[int, Sequence[str]]],
    source: str,
    info: dict[str, str],
) -> tuple[Bank, str]:
    """A bank from table rows (`(row number, cells)`) and its YAML text; `PackErrors` with
    every problem named `SOURCE:ROW: ...` (nothing is imported unless every row is right)."""
    errors: list[PackError] = []
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n and n not in COLUMNS]
    if unknown:
        errors.append(
            PackError(
                source,
                1,
                None,
                f"unknown columns {', '.join(unknown)} (the columns are: {', '.join(COLUMNS)})",
            )
        )
    errors.extend(_header_problems(names, source))
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        errors.append(PackError(source, 1, None, f"missing columns: {', '.join(missing)}"))
    if len(rows) > MAX_ROWS:
        errors.append(PackError(source, None, None, f"{len(rows)} rows; at most {MAX_ROWS}"))
    if not rows:
        errors.append(PackError(source, 1, None, "a header but no questions"))
    if errors:
        raise PackErrors(errors)
    for number, cells in rows:
        errors.extend(_stray_cells(names, number, cells, source))
    doc = Document({"bank": dict(info), "questions": []})
    doc.lines[("bank",)] = 1
    for i, (number, cells) in enumerate(rows):
        padded = {n: (cells[k] if k < len(cells) else "") for k, n in enumerate(names) if n}
        for column in COLUMNS:
            padded.setdefault(column, "")

        def add(message: str, number: int = number, ident: str = padded["id"]) -> None:
            errors.append(PackError(source, number, None, f"question {ident!r} › {message}"))

        doc.data["questions"].append(_row_question(padded, add))
        doc.lines[("questions", i)] = number
    # Each row on its own first, so that every row's problems are listed at once ...
    for i, question in enumerate(doc.data["questions"]):
        one = Document({"bank": dict(info), "questions": [question]})
        one.lines[("bank",)] = 1
        one.lines[("questions", 0)] = doc.lines[("questions", i)]
        try:
            load_bank_data(one, source)
        except PackErrors as exc:
            errors.extend(e for e in exc.errors if e.line != 1 or not errors)
    if errors:
        raise PackErrors(errors)
    # ... then the bank as a whole (ids given twice).
    bank = load_bank_data(doc, source)
    text = yaml.safe_dump(doc.data, allow_unicode=True, sort_keys=False, width=100)
    load_bank_text(text, source)  # what is written reads back as the same bank
    return bank, text


def rows_of(bank: Bank) -> list[list[str]]:
    """A bank as table rows: the header, then one row per question (what import reads)."""
    out = [list(COLUMNS)]
    for q in bank.questions:
        options = q.options or []
        if options:
            correct = ",".join(str(i + 1) for i, o in enumerate(options) if o.correct)
        elif q.answer is not None:
            correct = "true" if q.answer else "false"
        else:
            correct = ""
        match = ""
        if q.match is not None:
            if q.match.all or q.match.not_:
                shape: dict[str, Any] = {"any": q.match.any, "all": q.match.all}
                if q.match.not_:
                    shape["not"] = q.match.not_
                match = json.dumps({k: v for k, v in shape.items() if v}, ensure_ascii=False)
            else:
                match = SEPARATOR.join(q.match.any)
        out.append(
            [
                q.id,
                q.type,
                q.difficulty,
                " ".join(q.tags),
                f"{q.points:g}",
                q.prompt,
                SEPARATOR.join(o.text for o in options),
                correct,
                match,
                SEPARATOR.join(e.answer for e in q.examples if e.correct),
                SEPARATOR.join(e.answer for e in q.examples if not e.correct),
                "yes" if q.manual else "",
                q.model_answer or "",
                q.explanation,
            ]
        )
    return out
