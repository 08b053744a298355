"""Question bank commands: `sandbox questions` (a summary), import and export."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sandbox.cli.output import fail, table, writable

if TYPE_CHECKING:
    from sandbox.questions.loader import BankSet


def summary(loaded: BankSet) -> dict[str, object]:
    """Counts by type, locale, trade, difficulty and tag (what `sandbox questions` prints)."""
    questions = [q for b in loaded.banks for q in b.questions]

    def count(values: list[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return {
        "banks": [
            {
                "id": b.id,
                "file": b.source,
                "locale": b.locale,
                "trade": b.bank.trade,
                "questions": len(b.questions),
            }
            for b in loaded.banks
        ],
        "questions": len(questions),
        "by_type": count([q.type for q in questions]),
        "by_locale": count([q.locale for q in questions]),
        "by_trade": count([q.trade for q in questions]),
        "by_difficulty": count([q.difficulty for q in questions]),
        "by_tag": count([t for q in questions for t in q.tags]),
        "manual": sum(1 for q in questions if not q.objective),
        "errors": [str(e) for e in loaded.errors],
    }


def questions(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Bank files or folders; default: question_banks/ and $SANDBOX_QUESTIONS.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Summarise question banks: counts by type, locale, trade, difficulty and tag."""
    from sandbox.cli.web import load_settings
    from sandbox.questions.library import bank_folders
    from sandbox.questions.loader import load_banks
    from sandbox.scenarios.files import pack_files

    chosen = list(paths or bank_folders(load_settings()))
    missing = [p for p in chosen if not p.exists()]
    if missing:
        raise fail(f"{missing[0]}: no such file or folder")
    for folder in (p for p in paths or [] if p.is_dir()):
        if next(pack_files([folder]), None) is None:
            raise fail(f"{folder}: no bank files (*.yaml or *.yml) here")
    loaded = load_banks(chosen)
    data = summary(loaded)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(
            table(
                ["bank", "locale", "trade", "questions"],
                [[b["id"], b["locale"], b["trade"], b["questions"]] for b in data["banks"]],  # type: ignore[attr-defined]
            )
        )
        typer.echo("")
        for key in ("by_type", "by_locale", "by_trade", "by_difficulty", "by_tag"):
            counts = data[key]
            assert isinstance(counts, dict)
            shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
            typer.echo(f"{key.removeprefix('by_')}: {shown}")
        typer.echo(f"{data['questions']} questions ({data['manual']} marked by a person)")
        for problem in loaded.errors:
            typer.echo(str(problem), err=True)
    if loaded.errors:
        raise typer.Exit(1)


MAX_TABLE_BYTES = 5 * 1024 * 1024


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the numbered rows of a CSV (UTF-8) or XLSX file; blank rows skipped."""
    from sandbox.scenarios.files import FileTooLarge, read_at_most

    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise fail(f"{path}: a question table is a .csv or .xlsx file")
    if path.is_dir():
        raise fail(f"{path}: cannot read: a folder, not a .csv or .xlsx file")
    try:
        raw = read_at_most(path, MAX_TABLE_BYTES)  # never more than the limit in memory
    except FileTooLarge as exc:
        raise fail(f"{path}: {exc.message('a question table')}") from None
    except OSError as exc:
        raise fail(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".xlsx":
        table_rows = _xlsx_rows(path, raw)
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise fail(f"{path}:{line}: not UTF-8 text; save the file as CSV UTF-8") from None
        table_rows = []
        reader = csv.reader(io.StringIO(text))
        try:
            for cells in reader:
                table_rows.append(list(cells))
        except csv.Error as exc:
            raise fail(f"{path}:{reader.line_num}: {_csv_problem(exc)}") from None
    if not table_rows:
        raise fail(f"{path}: the file is empty; it needs a header row (see questions-template)")
    numbered = [
        (n, row) for n, row in enumerate(table_rows[1:], start=2) if any(c.strip() for c in row)
    ]
    return table_rows[0], numbered


def _csv_problem(exc: csv.Error) -> str:
    """A CSV reader's error in words: a cell over the csv module's limit names the limit."""
    if "field larger than field limit" in str(exc):
        return (
            f"a cell is longer than {csv.field_size_limit():,} characters, the most a cell may hold"
        )
    return f"not readable as CSV: {exc}"


def _xlsx_rows(path: Path, raw: bytes) -> list[list[str]]:
    """The rows of an XLSX file's first sheet, or a clear error for a damaged workbook."""
    import zipfile
    import zlib

    from openpyxl import load_workbook

    rows: list[list[str]] = []
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        if not book.worksheets:
            raise fail(f"{path}: the workbook has no sheet; the questions are on the first sheet")
        for values in book.worksheets[0].iter_rows(values_only=True):
            rows.append(["" if v is None else _cell_text(v) for v in values])
        book.close()
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        KeyError,
        IndexError,
        ValueError,
        TypeError,
        SyntaxError,  # xml.etree's ParseError: a sheet's XML cut short or damaged
    ) as exc:
        raise fail(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    return rows


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_table_out(path: Path) -> None:
    """Refuse, before any work, a table that cannot be written: its ending, its folder."""
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise fail(f"{path}: write a .csv or .xlsx file")
    writable(path)


def _write_table(path: Path, rows: list[list[str]]) -> None:
    try:
        _save_table(path, rows)
    except OSError as exc:
        raise fail(f"{path}: cannot write: {exc.strerror or exc}") from None


def _save_table(path: Path, rows: list[list[str]]) -> None:
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "questions"
        for row in rows:
            sheet.append(row)
        book.save(path)
    elif path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerows(rows)
    else:
        raise fail(f"{path}: write a .csv or .xlsx file")


def import_questions(
    table: Annotated[Path, typer.Argument(metavar="TABLE", help="A .csv (UTF-8) or .xlsx file.")],
    out: Annotated[Path, typer.Option("--out", help="The bank file to write (.yaml).")],
    bank_id: Annotated[str, typer.Option("--bank", help="The bank's id (a-z, 0-9, -).")],
    title: Annotated[str, typer.Option(help="The bank's title.")],
    locale: Annotated[str, typer.Option(help="en or zh-CN.")],
    trade: Annotated[str, typer.Option(help="pharmacy or aesthetics.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Import a question table into a bank file. Every problem is listed as FILE:ROW:
    message, and nothing is written if any row is wrong."""
    from sandbox.cli.web import load_settings
    from sandbox.questions.library import bank_folders
    from sandbox.questions.loader import load_banks
    from sandbox.questions.tabular import bank_from_rows
    from sandbox.scenarios.errors import PackErrors

    writable(out)
    if out.exists() and not force:
        raise fail(f"{out}: already exists; choose another file or add --force")
    header, rows = _read_table(table)
    info = {"id": bank_id, "title": title, "locale": locale, "trade": trade}
    try:
        bank, text = bank_from_rows(header, rows, str(table), info)
    except PackErrors as exc:
        for problem in exc.errors:
            typer.echo(str(problem))
        raise fail(f"{len(exc.errors)} problem(s); nothing imported") from None
    clash = [
        q.id for q in bank.questions if q.id in load_banks(bank_folders(load_settings())).questions
    ]
    if clash and not force:
        raise fail(
            f"question ids already in the served banks: {', '.join(clash[:10])}; "
            "nothing imported (ids are unique over every bank)"
        )
    try:
        out.write_text(text, "utf-8")
    except OSError as exc:
        raise fail(f"{out}: cannot write: {exc.strerror}") from None
    typer.echo(f"{len(bank.questions)} questions imported into {out}")


def export_questions(
    bank_file: Annotated[Path, typer.Argument(metavar="BANK", help="A bank file (.yaml).")],
    table: Annotated[Path, typer.Argument(metavar="TABLE", help="The .csv or .xlsx to write.")],
) -> None:
    """Export a bank to a question table (the columns import reads)."""
    from sandbox.questions.loader import load_bank
    from sandbox.questions.tabular import rows_of
    from sandbox.scenarios.errors import PackErrors

    _check_table_out(table)
    try:
        bank = load_bank(bank_file)
    except PackErrors as exc:
        for problem in exc.errors:
            typer.echo(str(problem))
        raise fail(f"{bank_file}: the bank is invalid") from None
    _write_table(table, rows_of(bank))
    typer.echo(f"{len(bank.questions)} questions exported to {table}")


def questions_template(
    table: Annotated[Path, typer.Argument(metavar="TABLE", help="The .csv or .xlsx to write.")],
) -> None:
    """Write an empty question table with its columns and two example rows."""
    from sandbox.questions.tabular import COLUMNS, TEMPLATE_ROWS

    _check_table_out(table)
    rows = [list(COLUMNS)] + [[row.get(c, "") for c in COLUMNS] for row in TEMPLATE_ROWS]
    _write_table(table, rows)
    typer.echo(f"template written to {table}")


def register(app: typer.Typer) -> None:
    app.command()(questions)
    app.command("questions-import")(import_questions)
    app.command("questions-export")(export_questions)
    app.command("questions-template")(questions_template)
