"""The `sandbox` command run in the test's own process, as its console script runs it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

from typer.testing import CliRunner

from sandbox.cli.main import main


def run_in_process(
    argv: list[str],
    *,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`sandbox ARGV...` through `main`, the console script's entry point (its exit codes, its
    "internal error" for a bug), with argv, stdin, stdout, stderr and `env` of its own (a None
    value unsets a variable; SANDBOX_DEBUG is always unset), in `cwd`.

    A Python start-up with the app's imports costs seconds; a real process is worth it only
    where the installed script, a shell's view of the exit or process isolation is tested.
    """
    variables: dict[str, str | None] = {"SANDBOX_DEBUG": None, **(env or {})}
    isolation = CliRunner().isolation(input=stdin or "", env=variables)
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stdout, stderr, _ = stack.enter_context(isolation)
        stack.enter_context(mock.patch.object(sys, "argv", ["sandbox", *argv]))
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        out, err = stdout.getvalue().decode("utf-8"), stderr.getvalue().decode("utf-8")
    return subprocess.CompletedProcess(["sandbox", *argv], code, out, err)
