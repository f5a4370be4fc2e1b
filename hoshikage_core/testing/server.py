"""Run ``hoshikage run`` in a subprocess on a free loopback port, as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["RunningServer", "free_port", "hoshikage_command", "start_server", "stop_server",
           "wait_for"]


def wait_for(check: Callable[[], bool], polls: int = 600) -> None:
    """Poll ``check`` until it holds (a hang guard of ``polls`` × 50 ms; nothing asserts
    how long it took)."""
    for _ in range(polls):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition never became true")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hoshikage_command(*args: str) -> list[str]:
    """The ``hoshikage`` command for this Python (``python -m hoshikage_core``)."""
    return [sys.executable, "-m", "hoshikage_core", *args]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(config_path: Path | None, log_path: Path, *extra: str,
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> RunningServer:
    """``hoshikage run`` on a free port; no ``config_path`` = the embedded default.

    Returns once ``/health`` answers; raises with the server's log if it exits or
    does not become healthy within a generous bound (a hang guard, not a timing).
    """
    port = free_port()
    config_args = ["--config", str(config_path)] if config_path is not None else []
    environment = {k: v for k, v in os.environ.items() if k != "HOSHIKAGE_CONFIG"}
    environment.update(env or {})
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            hoshikage_command("run", *config_args, "--port", str(port), *extra),
            stdout=log_file, stderr=subprocess.STDOUT, cwd=cwd, env=environment,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return RunningServer(url, process, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become healthy:\n{log_path.read_text()}")


def stop_server(server: RunningServer) -> int:
    """SIGINT (a graceful shutdown), then the exit status."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
    try:
        return server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()
