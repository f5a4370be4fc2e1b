"""Lifecycle through a real ``hoshikage run``: admin API, queues, disconnects,
failures, memory, keep_alive, shutdown — driven as a user would."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from hoshikage_core.testing.server import wait_for
from tests.conftest import REPO, SMOLLM2, RunningServer, hoshikage_command, start_server

pytestmark = pytest.mark.real_model

COUNTING = "1, 2, 3, 4, 5, 6,"  # greedy SmolLM2 keeps counting: a long, steady generation
ADMIN_FIELDS = {"id", "backend", "state", "aliases", "memory_bytes", "last_used", "expires_at",
                "running", "queued", "load_seconds", "load_progress", "error", "pinned", "path",
                "origin", "removed"}


def status(server: RunningServer, name: str) -> dict[str, Any]:
    data = httpx.get(f"{server.url}/admin/models").json()["data"]
    return next(m for m in data if m["id"] == name)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@contextmanager
def streaming(server: RunningServer, model: str, max_tokens: int = 800,
              **extra: Any) -> Iterator[Any]:
    """A long streamed completion, running once the first event arrived; closed on exit."""
    body = {"model": model, "prompt": COUNTING, "max_tokens": max_tokens, "temperature": 0,
            "stream": True, **extra}
    with httpx.stream("POST", f"{server.url}/v1/completions", json=body, timeout=60) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data: "))
        yield lines


def test_admin_status_has_every_field_and_never_loads(server: RunningServer) -> None:
    for _ in range(3):
        entry = status(server, "never-used")
    assert set(entry) == ADMIN_FIELDS
    assert entry["state"] == "unloaded" and entry["running"] == 0 and entry["queued"] == 0
    out = subprocess.run(hoshikage_command("ps", "--all", "--url", server.url),
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "never-used" in out.stdout and "STATE" in out.stdout
    assert status(server, "never-used")["state"] == "unloaded"


def test_full_queue_503_and_disconnect_frees_the_slot(server: RunningServer) -> None:
    url = f"{server.url}/v1/completions"
    queued_result: dict[str, Any] = {}

    def queued_request() -> None:
        response = httpx.post(url, json={"model": "one-at-a-time", "prompt": "Hi",
                                         "max_tokens": 3}, timeout=120)
        queued_result["status"] = response.status_code
        queued_result["body"] = response.json()

    with streaming(server, "one-at-a-time"):
        assert status(server, "one-at-a-time")["running"] == 1
        waiting = threading.Thread(target=queued_request)
        waiting.start()
        wait_for(lambda: status(server, "one-at-a-time")["queued"] == 1)
        overflow = httpx.post(url, json={"model": "one-at-a-time", "prompt": "Hi",
                                         "max_tokens": 3})
        assert overflow.status_code == 503
        assert int(overflow.headers["retry-after"]) >= 1
        assert overflow.json()["error"]["code"] == "queue_full"
        assert waiting.is_alive()  # a new request never interrupts the running one
    # leaving the block closed the stream: its slot goes to the queued request
    waiting.join(timeout=120)
    assert queued_result["status"] == 200
    assert queued_result["body"]["usage"]["completion_tokens"] == 3
    wait_for(lambda: status(server, "one-at-a-time")["running"] == 0)


def test_queued_client_that_gives_up_is_dropped(server: RunningServer) -> None:
    with streaming(server, "one-at-a-time"):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.url}/v1/completions", timeout=1.0,
                       json={"model": "one-at-a-time", "prompt": "Hi", "max_tokens": 3})
        wait_for(lambda: status(server, "one-at-a-time")["queued"] == 0)
        assert status(server, "one-at-a-time")["running"] == 1
    assert "client disconnected; work cancelled" in server.log()


def test_non_streamed_generation_stops_when_the_client_leaves(server: RunningServer) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v1/completions", timeout=1.5, json={
            "model": "one-at-a-time", "prompt": COUNTING, "max_tokens": 1000, "temperature": 0})
    wait_for(lambda: status(server, "one-at-a-time")["running"] == 0)
    stopped = [line for line in server.log().splitlines()
               if "one-at-a-time: generation stopped early after" in line]
    assert stopped and int(stopped[-1].split("after ")[1].split()[0]) < 1000


def test_corrupt_model_fails_alone(server: RunningServer, openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        openai_client.completions.create(model="truncated", prompt="x", max_tokens=1)
    body = info.value.response.json()["error"]
    assert body["code"] == "model_load_failed" and "truncated" in body["message"]
    entry = status(server, "truncated")
    assert entry["state"] == "failed" and entry["error"]
    assert openai_client.completions.create(model="tiny", prompt="x", max_tokens=2).choices
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"


def test_keep_alive_zero_and_invalid_keep_alive(server: RunningServer) -> None:
    url = f"{server.url}/v1/chat/completions"
    body = {"model": "tiny", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    assert httpx.post(url, json={**body, "keep_alive": 0}).status_code == 200
    wait_for(lambda: status(server, "tiny")["state"] == "unloaded")
    bad = httpx.post(url, json={**body, "keep_alive": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "keep_alive"
    assert httpx.post(url, json={**body, "keep_alive": "5m"}).status_code == 200
    assert status(server, "tiny")["state"] == "ready"


def test_unload_really_frees_memory(server: RunningServer) -> None:
    pid = server.process.pid
    load = f"{server.url}/admin/models/rss-probe/load"
    unload = f"{server.url}/admin/models/rss-probe/unload"
    httpx.post(load, timeout=120)  # warm-up cycle: first-use allocations stay
    httpx.post(unload, timeout=120)
    before = rss_bytes(pid)
    loaded_info = httpx.post(load, timeout=120).json()
    httpx.post(f"{server.url}/v1/completions", timeout=120,
               json={"model": "rss-probe", "prompt": COUNTING, "max_tokens": 20})
    loaded = rss_bytes(pid)
    unloaded_info = httpx.post(unload, timeout=120).json()
    after = rss_bytes(pid)
    assert loaded_info["state"] == "ready" and unloaded_info["state"] == "unloaded"
    grown = loaded - before
    assert grown > 64 * 2**20, (before, loaded)  # the model really was resident
    assert after - before < 0.15 * grown, (before, loaded, after)
    # the estimate the memory budget works with does not undercount what it took
    assert grown <= loaded_info["memory_bytes"], (grown, loaded_info["memory_bytes"])


def test_cli_load_and_unload(server: RunningServer) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(hoshikage_command(*args, "--url", f"{server.url}/v1"),
                              capture_output=True, text=True, cwd=REPO, timeout=120)

    assert "never-used: ready" in run("load", "never-used").stdout
    assert "never-used" in run("ps").stdout
    assert "never-used: unloaded" in run("unload", "never-used").stdout
    missing = run("unload", "no-such-model")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_shutdown_timeout_cuts_a_stream_that_runs_too_long(tmp_path: Path) -> None:
    """After shutdown_timeout a running stream is cancelled; the model still unloads and
    the process exits 0."""
    config = tmp_path / "impatient.toml"
    config.write_text(f'[server]\nshutdown_timeout = "1s"\n'
                      f'[models.m]\npath = "{SMOLLM2}"\n[models.m.options]\nn_ctx = 4096\n')
    server = start_server(config, tmp_path / "impatient.log")
    try:
        received = 0
        with streaming(server, "m", max_tokens=4000, logit_bias={"0": -100, "2": -100}) as lines:
            server.process.send_signal(signal.SIGTERM)
            try:
                for line in lines:
                    received += line.startswith("data: ")
            except httpx.HTTPError:
                pass  # the server closed the connection when it gave up on the stream
        assert received < 4000  # it did not wait for all of them
        assert server.process.wait(timeout=120) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
    log = server.log()
    assert "unloading model m" in log and "Traceback" not in log
    assert "WARNING uvicorn.error [-] a request still running at the end of shutdown_timeout " \
        "was cut off" in log


def test_graceful_shutdown_lets_running_streams_finish(tmp_path: Path) -> None:
    config = tmp_path / "shutdown.toml"
    config.write_text(f'[models.m]\npath = "{SMOLLM2}"\n[models.m.options]\nn_ctx = 512\n')
    server = start_server(config, tmp_path / "shutdown.log")
    try:
        events: list[str] = []
        with streaming(server, "m", max_tokens=150) as lines:
            server.process.send_signal(signal.SIGTERM)
            events = [line for line in lines if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]"
        assert '"finish_reason":"length"' in events[-2]  # all 150 tokens were delivered
        assert server.process.wait(timeout=60) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
    log = server.log()
    assert "unloading model m" in log
