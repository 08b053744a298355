"""Plain-text output for the terminal: tables and messages, no colour codes in pipes."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import typer


def width(text: str) -> int:
    """Columns a string takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True))

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]]
    return "\n".join(s.rstrip() for s in out)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun in English: "1 attempt", "2 attempts" (the CLI speaks English;
    the web pages' counts are plural entries of the gettext catalogues)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def error(message: str) -> None:
    typer.echo(message, err=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` to stderr and return the Exit to raise."""
    error(message)
    return typer.Exit(code)


def writable(path: Path) -> None:
    """Refuse, before any work, an output path that cannot be written: `PATH: cannot write:
    why` (its folder missing or not writable, or the path itself a folder)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise fail(f"{path}: cannot write: it is a folder; give a file name")
    if not folder.is_dir():
        raise fail(f"{path}: cannot write: no folder {str(folder)!r}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise fail(f"{path}: cannot write: permission denied")


def is_terminal() -> bool:
    return sys.stdout.isatty()
