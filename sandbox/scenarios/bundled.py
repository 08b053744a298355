"""Where the product's own packs live."""

from __future__ import annotations

from pathlib import Path

#: `scenario_packs/` beside the package: in a checkout and in the container image alike.
BUNDLED_PACKS = Path(__file__).resolve().parents[2] / "scenario_packs"
