"""Errors of the pack layer: each names the file, the line and the key it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackError:
    """One problem in one pack file."""

    path: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class PackErrors(Exception):
    """Every problem found in a pack; nothing of such a pack is loaded."""

    def __init__(self, errors: list[PackError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.path, e.line or 0))
        super().__init__("\n".join(str(e) for e in self.errors))
