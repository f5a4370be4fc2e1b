"""Capacity and ``keep_alive`` through a real ``hoshikage run``: a cold model takes as
many requests as a warm one, and a request's ``keep_alive`` is its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, RunningServer, start_server, stop_server
from tests.e2e.test_lifecycle_server import status, wait_for

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def admission_server(tmp_path_factory: pytest.TempPathFactory,
                     tiny_gguf_path: Path) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("admission")
    (folder / "cold.bin").write_text("a model whose load waits for cold.bin.go")
    config = folder / "admission.toml"
    config.write_text(f"""
[plugins]
dir = "{REPO / 'tests' / 'e2e' / 'plugins'}"
[models.cold]
backend = "gated"
path = "{folder / 'cold.bin'}"
parallel = 1
max_queue = 2
[models.tiny]
path = "{tiny_gguf_path}"
idle_timeout = "10m"
[models.tiny.options]
n_ctx = 256
""")
    server = start_server(config, folder / "admission.log")
    yield server
    stop_server(server)


def test_a_loading_model_takes_parallel_plus_max_queue_requests(
        admission_server: RunningServer) -> None:
    url = f"{admission_server.url}/v1/completions"
    results: dict[int, httpx.Response] = {}

    def ask(i: int) -> None:
        results[i] = httpx.post(url, json={"model": "cold", "prompt": f"r{i}"}, timeout=120)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    # all three are admitted while the model loads: one will run, two wait
    wait_for(lambda: status(admission_server, "cold")["queued"] == 3)
    assert status(admission_server, "cold")["state"] == "loading"
    overflow = httpx.post(url, json={"model": "cold", "prompt": "one too many"})
    assert overflow.status_code == 503 and overflow.json()["error"]["code"] == "queue_full"
    assert "2 requests are already waiting" in overflow.json()["error"]["message"]
    assert int(overflow.headers["retry-after"]) >= 1
    Path(f"{admission_server.log_path.parent / 'cold.bin'}.go").touch()  # the load may end now
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(r.json()["choices"][0]["text"] for r in results.values()) == ["r0", "r1", "r2"]


def chat(server: RunningServer, **extra: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/chat/completions", timeout=120, json={
        "model": "tiny", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2,
        **extra})


def test_keep_alive_governs_only_the_expiry_after_its_own_request(
        admission_server: RunningServer) -> None:
    assert chat(admission_server, keep_alive=0).status_code == 200
    wait_for(lambda: status(admission_server, "tiny")["state"] == "unloaded")
    loaded = httpx.post(f"{admission_server.url}/admin/models/tiny/load", timeout=120).json()
    assert loaded["state"] == "ready"
    # an admin load without keep_alive stays for the model's idle_timeout (10 minutes)
    assert loaded["expires_at"] - time.time() > 500, loaded
    assert chat(admission_server).status_code == 200  # nor does a request without one
    assert status(admission_server, "tiny")["expires_at"] - time.time() > 500
    assert chat(admission_server, keep_alive="1m").status_code == 200
    assert 0 < status(admission_server, "tiny")["expires_at"] - time.time() <= 60
