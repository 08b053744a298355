"""`sandbox serve` as a user runs it: a real process on a free local port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from web_support import SHARED_PACKS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_migrates_loads_packs_and_prints_demo_logins(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SANDBOX_PACKS": str(SHARED_PACKS),
        "SANDBOX_BUILTIN_PACKS": "false",
        "SANDBOX_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SANDBOX_DATABASE_URL", None)
    env.pop("SANDBOX_ENV", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "trainee" in line and "demo /" in line:
                break
        output = "".join(lines)
        assert f"Sandbox on http://localhost:{port}/" in output, output
        assert re.search(r"2 packs, \d+ scenarios loaded", output), output
        match = re.search(r"trainee\s+demo / (\S+)", output)
        assert match, output
        assert (tmp_path / "var" / "sandbox.db").exists()

        base = f"http://127.0.0.1:{port}"
        page = None
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200
        assert match.group(1) in page.text
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
