"""The documentation tells the truth about the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sandbox.evaluator.examples import run_pack
from sandbox.scenarios.loader import load_pack_text

ROOT = Path(__file__).resolve().parents[1]


def test_pack_authoring_guide_example_passes_its_own_examples() -> None:
    guide = (ROOT / "docs" / "pack-authoring.md").read_text("utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", guide, re.S)
    assert blocks, "the guide has a worked example"
    pack = load_pack_text(blocks[0], "docs/pack-authoring.md")
    results = run_pack(pack)
    assert len(results) >= 4
    assert [r.failures for r in results if not r.passed] == []


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    listed = set(re.findall(r"^\| `sandbox (\w+)", readme, re.M))
    out = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in listed:
        assert re.search(rf"\b{command}\b", out), f"README lists `sandbox {command}`"
    assert {"validate", "test", "grade", "play", "packs"} <= listed


def test_readme_scripts_exist() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    for script in re.findall(r"^\./(scripts/\w+)$", readme, re.M):
        assert (ROOT / script).is_file(), script


def test_architecture_lists_every_module() -> None:
    """docs/architecture.md's module index names every module of the package."""
    root = Path(__file__).resolve().parents[1]
    index = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = root / "sandbox"
    modules = [
        f"sandbox/{p.relative_to(package).as_posix()}"
        for p in sorted(package.rglob("*.py"))
        if p.name != "__init__.py" and "migrations" not in p.relative_to(package).parts
    ]
    missing = [m for m in modules if f"| `{m}` |" not in index]
    assert not missing, f"add to docs/architecture.md's module index: {missing}"
