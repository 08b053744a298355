"""requirements.lock (scripts/lock) pins every dependency pyproject names, test tools too:
scripts/setup installs from it, then the package with --no-deps, so a name missing here is
missing from every fresh checkout."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_of_pyproject_is_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    names = {canonical(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in wanted}
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    locked = {canonical(m) for m in re.findall(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock)}
    assert names - locked == set()
