"""A real `sandbox serve` in a subprocess on a free local port, for the browser and fault tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SERVER_START_S = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(folder: Path, **settings: str) -> dict[str, str]:
    """The environment of a server on `folder` (database, var dir); SANDBOX_* from `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SANDBOX_")}
    env.update(
        {
            "SANDBOX_ENV": "development",
            "SANDBOX_DATABASE_URL": f"sqlite:///{folder / 'sandbox.db'}",
            "SANDBOX_VAR_DIR": str(folder / "var"),
            "SANDBOX_BUILTIN_PACKS": "false",
            "SANDBOX_REPLY_DELAY_S": "0",
            "SANDBOX_DEMO_USERS": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"SANDBOX_{key.upper()}": value for key, value in settings.items()})
    return env


class Server:
    """One `sandbox serve` process; `start` again after `kill` to restart it on the same port."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Start and wait until /healthz answers; a port taken meanwhile is retried."""
        ports = [self.port] if self.port else [free_port() for _ in range(3)]
        for port in ports:
            self.port = port
            with self.log_path.open("ab") as log:
                command = [sys.executable, "-m", "sandbox", "serve", "--host", "127.0.0.1"]
                self.process = subprocess.Popen(
                    [*command, "--port", str(port)],
                    cwd=self.folder,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._serving():
                return self.url
            self.stop()
        raise RuntimeError("sandbox serve did not start:\n" + self.log_tail())

    def _serving(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye to the sockets."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")[-4000:]
