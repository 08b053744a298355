"""CSV files as spreadsheets save them: any of the encodings and separators they use.

Pure (bytes or text in, rows out), for every CSV import of the product: written exam scores
(`sandbox/exams/policy.py`) and, for the user import, `decode_csv` + `read_csv_rows` the same
way. Spreadsheets differ by locale:

- Excel's "CSV UTF-8" starts with a byte-order mark; plain "CSV" on a Chinese Windows is GBK
  (read here as GB 18030, its superset); elsewhere UTF-8 without a mark.
- Where the decimal separator is a comma (much of Europe), the field separator is a
  semicolon; tab-separated text is what a copy from a sheet pastes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

DELIMITERS = (",", ";", "\t")


class CsvEncodingError(ValueError):
    """The bytes are neither UTF-8 nor GBK/GB 18030 text."""


def decode_csv(data: bytes) -> str:
    """The text of an uploaded CSV file: UTF-8 (with or without a byte-order mark), else
    GBK/GB 18030 as Chinese Excel saves it. Raises `CsvEncodingError` for anything else."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise CsvEncodingError("the file is neither UTF-8 nor GBK text") from None


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def sniff_delimiter(text: str) -> str:
    """The separator of the first non-blank line: the most frequent of comma, semicolon and
    tab outside quotes (a comma when none is there)."""
    for line in text.splitlines():
        if line.strip():
            counts = [(_count_outside_quotes(line, d), -i, d) for i, d in enumerate(DELIMITERS)]
            best = max(counts)
            return best[2] if best[0] > 0 else ","
    return ","


@dataclass(frozen=True)
class CsvRow:
    line: int  # of the file, where the row starts (a quoted cell may span lines)
    cells: list[str]


class CsvRowError(ValueError):
    """A row the csv module cannot read (a cell over its limit); `line` is where it starts."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def read_csv_rows(text: str) -> list[CsvRow]:
    """Every row with its line number, the separator sniffed, a byte-order mark dropped.

    Raises `CsvRowError` for a row the csv module refuses: a cell longer than its limit
    (`csv.field_size_limit()`, 131,072 characters), said with the limit.
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=sniff_delimiter(text))
    rows: list[CsvRow] = []
    line = 1
    try:
        for cells in reader:
            rows.append(CsvRow(line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            message = (
                f"a cell is longer than {csv.field_size_limit():,} characters, "
                "the most a cell may hold"
            )
        else:
            message = f"not readable as CSV: {exc}"
        raise CsvRowError(line, message) from None
    return rows
