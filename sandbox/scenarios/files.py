"""Which files are packs: the `*.yaml` files of a folder, without links that lead out of it."""

from __future__ import annotations

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


def pack_files(paths: Iterable[str | FsPath]) -> Iterator[tuple[FsPath, PackError | None]]:
    """Each path as given, or every `*.yaml` file in it when it is a folder (sorted).

    A file named on its own is read wherever it is: someone chose it. A file found in a
    folder comes with the error that skips it when it is a link out of the folder (whose
    target might be any file of the machine) or a link to nothing.
    """
    for path in paths:
        p = FsPath(path)
        if not p.is_dir():
            yield p, None
            continue
        for q in sorted(q for q in p.glob("*.yaml") if q.is_file() or q.is_symlink()):
            problem = _link_problem(q, p)
            yield q, PackError(str(q), None, None, problem) if problem else None
