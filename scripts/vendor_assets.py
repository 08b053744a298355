#!/usr/bin/env python3
"""Copy the browser files the app serves from node_modules/ into sandbox/web/static/vendor/.

Run `npm ci` first (package-lock.json pins the versions), then this script:

    npm ci --ignore-scripts && python3 scripts/vendor_assets.py

The vendor folder is git-ignored: no third-party code is committed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "sandbox" / "web" / "static" / "vendor"

# source in node_modules -> name under /static/vendor
FILES = {
    "htmx.org/dist/htmx.min.js": "htmx.min.js",
    "htmx.org/LICENSE": "htmx.LICENSE.txt",
    "htmx-ext-ws/dist/ws.js": "ws.js",
    "htmx-ext-ws/LICENSE": "htmx-ext-ws.LICENSE.txt",
    "axe-core/axe.min.js": "axe.min.js",
    "axe-core/LICENSE": "axe-core.LICENSE.txt",
}


def main() -> int:
    missing = [source for source in FILES if not (NODE_MODULES / source).is_file()]
    if missing:
        print("missing in node_modules (run `npm ci --ignore-scripts` first):", file=sys.stderr)
        for source in missing:
            print(f"  {source}", file=sys.stderr)
        return 1
    VENDOR.mkdir(parents=True, exist_ok=True)
    for source, target in FILES.items():
        shutil.copyfile(NODE_MODULES / source, VENDOR / target)
        print(f"{source} -> sandbox/web/static/vendor/{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
