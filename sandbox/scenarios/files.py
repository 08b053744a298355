"""Which files are packs: the `*.yaml` (or `*.yml`) files of a folder, without links that lead
out of it; and reading a file no further than its size limit."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path as FsPath

from sandbox.scenarios.errors import PackError

LINK_OUT = (
    "a symbolic link that leads out of the pack folder; skipped "
    "(copy the pack into the folder instead)"
)
LINK_BROKEN = "a symbolic link to nothing (or a loop of links); skipped"


def _link_problem(path: FsPath, folder: FsPath) -> str | None:
    """Why `path`, found in `folder`, is not read: a link out of the folder, or to nothing."""
    try:
        target = path.resolve(strict=True)
        inside = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        return LINK_BROKEN
    return None if target.is_relative_to(inside) else LINK_OUT


# The endings of the YAML files a folder's packs, banks and lexicon files are read from
# (compared case-insensitively: `a.YAML` and `a.yml` are read too).
YAML_SUFFIXES = (".yaml", ".yml")


def is_yaml_name(path: FsPath) -> bool:
    """Whether a file found in a folder is read as YAML, by its ending (any case)."""
    return path.suffix.lower() in YAML_SUFFIXES


def too_large(size: int | None, limit: int, what: str) -> str:
    """The message for a file over its limit; `size` None: known only to be larger."""
    shown = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return f"file is {shown}; {what} may be at most {limit:,}"


class FileTooLarge(ValueError):
    """A file over its size limit, found before it was read into memory."""

    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"{size} > {limit}")

    def message(self, what: str) -> str:
        return too_large(self.size, self.limit, what)


def read_at_most(path: str | FsPath, limit: int) -> bytes:
    """The bytes of a file of at most `limit` bytes; `FileTooLarge` (before anything is read
    when the file's size says so, else after `limit + 1` bytes, as for a device), or
    `OSError` (a folder is `IsADirectoryError`)."""
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):  # pragma: no cover - open() refuses a folder first
            raise IsADirectoryError(21, "Is a directory", str(path))
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise FileTooLarge(info.st_size, limit)
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise FileTooLarge(None, limit)
    return raw


def size_problem(path: str | FsPath, limit: int, what: str) -> str | None:
    """Why a file is not read, by its size alone (nothing is read): over `limit`, or not a
    regular file (a device or a pipe could give bytes without end). None: read it."""
    try:
        info = os.stat(path)
    except OSError:
        return None  # the reader says why it cannot read it
    if stat.S_ISDIR(info.st_mode):
        return "a folder, not a file"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a device or a pipe); give a file"
    if info.st_size > limit:
        return too_large(info.st_size, limit, what)
    return None


def pack_files(paths: Iterable[str | FsPath]) -> Iterator[tuple[FsPath, PackError | None]]:
    """Each path as given, or every `*.yaml` or `*.yml` file in it (any case) when it is a
    folder (sorted).

    A file named on its own is read wherever it is: someone chose it. A file found in a
    folder comes with the error that skips it when it is a link out of the folder (whose
    target might be any file of the machine) or a link to nothing.
    """
    for path in paths:
        p = FsPath(path)
        if not p.is_dir():
            yield p, None
            continue
        try:
            names = list(p.iterdir())
        except OSError as exc:
            yield p, PackError(str(p), None, None, f"cannot read the folder: {exc.strerror}")
            continue
        for q in sorted(q for q in names if is_yaml_name(q) and (q.is_file() or q.is_symlink())):
            problem = _link_problem(q, p)
            yield q, PackError(str(q), None, None, problem) if problem else None
