"""Folders and files only their owner may read: var/, the SQLite database, secrets.

Modes are given when a file or folder is created, never by a chmod afterwards, so there is
no moment in which another local user could open it. Folders and files that already exist
keep their modes: an operator may have chosen them (docs/security.md says how to tighten
an older installation).
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) if needed; a folder created here is 0700."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:  # made meanwhile by another process
        return
    # mkdir's mode is narrowed by the umask, never widened; make it exactly 0700.
    os.chmod(path, DIR_MODE)


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; True when it was created here."""
    make_private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to `path`, which is (or is made) 0600 before any byte is written."""
    make_private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    if hasattr(os, "fchmod"):  # an existing file keeps no wider mode than 0600
        os.fchmod(descriptor, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
