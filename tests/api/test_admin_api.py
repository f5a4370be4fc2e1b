"""Admin endpoints and lifecycle errors over HTTP (scripted backend, in-process)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hoshikage_core import Hoshikage, create_app
from hoshikage_core.testing.clock import FakeClock
from tests.api.test_api_errors import assert_openai_error
from tests.fakes import EchoBackend

FIELDS = {"id", "backend", "state", "aliases", "memory_bytes", "last_used", "expires_at",
          "running", "queued", "load_seconds", "load_progress", "error", "pinned", "path",
          "origin", "removed"}


@pytest.fixture
def echo() -> EchoBackend:
    return EchoBackend()


@pytest.fixture
async def http(tmp_path: Path, echo: EchoBackend) -> AsyncIterator[httpx.AsyncClient]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x" * 1000)
    cfg = {"models": {
        "a": {"backend": "echo", "path": str(model_file), "aliases": ["org/alias"],
              "max_queue": 1, "idle_timeout": "10m"},
    }}
    async with Hoshikage(cfg, plugins={"echo": echo}, clock=FakeClock()) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def test_status_load_unload(http: httpx.AsyncClient, echo: EchoBackend) -> None:
    listing = (await http.get("/admin/models")).json()["data"]
    assert set(listing[0]) == FIELDS and listing[0]["state"] == "unloaded"
    loaded = (await http.post("/admin/models/a/load")).json()
    assert loaded["state"] == "ready" and loaded["memory_bytes"] == 1000  # the file size
    assert loaded["expires_at"] == pytest.approx(1_800_000_000.0 + 600)
    assert (await http.get("/admin/models/org/alias")).json()["id"] == "a"  # names with "/"
    one = (await http.get("/admin/models/a")).json()
    assert one["state"] == "ready" and one["load_seconds"] is not None
    unloaded = (await http.post("/admin/models/a/unload")).json()
    assert unloaded["state"] == "unloaded" and echo.unloads == ["a"]
    assert_openai_error(await http.post("/admin/models/nope/load"), 404, code="model_not_found")


async def test_v1_model_by_id_or_alias(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v1/models/org/alias")).json()["id"] == "a"
    assert_openai_error(await http.get("/v1/models/gpt-4"), 404, code="model_not_found")


async def test_queue_full_over_http_has_retry_after(http: httpx.AsyncClient,
                                                    echo: EchoBackend) -> None:
    echo.turnstile = threading.Semaphore(0)
    body = {"model": "a", "prompt": "x"}

    async def until(running: int, queued: int) -> None:
        for _ in range(5000):  # a hang guard, not a timing assertion
            status = (await http.get("/admin/models")).json()["data"][0]
            if (status["running"], status["queued"]) == (running, queued):
                return
            await asyncio.sleep(0.001)
        raise AssertionError(status)

    running = asyncio.ensure_future(http.post("/v1/completions", json=body))
    await until(1, 0)
    queued = asyncio.ensure_future(http.post("/v1/completions", json=body))
    await until(1, 1)
    response = await asyncio.wait_for(http.post("/v1/completions", json=body), 30)
    error = assert_openai_error(response, 503, code="queue_full")
    assert "busy" in error["message"] and int(response.headers["retry-after"]) >= 1
    messages = await http.post("/v1/messages", json={  # each dialect in its own shape
        "model": "a", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert messages.status_code == 503 and int(messages.headers["retry-after"]) >= 1
    assert messages.json()["error"]["type"] == "overloaded_error"
    responses = await http.post("/v1/responses", json={"model": "a", "input": "x"})
    assert_openai_error(responses, 503, code="queue_full")
    echo.turnstile.release()
    echo.turnstile.release()
    assert [r.status_code for r in await asyncio.gather(running, queued)] == [200, 200]


async def test_keep_alive_is_validated(http: httpx.AsyncClient) -> None:
    error = assert_openai_error(await http.post(
        "/v1/completions", json={"model": "a", "prompt": "x", "keep_alive": "-3m"}), 400)
    assert error["param"] == "keep_alive" and "duration" in error["message"]
    ok = await http.post("/v1/completions", json={"model": "a", "prompt": "x",
                                                  "keep_alive": "1h"})
    assert ok.status_code == 200
    status = (await http.get("/admin/models/a")).json()
    assert status["expires_at"] == pytest.approx(1_800_000_000.0 + 3600)


async def test_status_endpoints_never_load_or_reset_the_timer(tmp_path: Path,
                                                              echo: EchoBackend) -> None:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    clock = FakeClock()
    cfg = {"models": {"a": {"backend": "echo", "path": str(model_file), "idle_timeout": "10s"},
                      "b": {"backend": "echo", "path": str(model_file)}}}
    async with Hoshikage(cfg, plugins={"echo": echo}, clock=clock) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/v1/completions",
                                      json={"model": "a", "prompt": "x"})).status_code == 200
            expires = (await client.get("/admin/models/a")).json()["expires_at"]
            await clock.advance(6)
            for path in ("/health", "/metrics", "/admin/models", "/admin/models/a",
                         "/admin/models/b", "/v1/models", "/v1/models/a", "/v1/models/b"):
                assert (await client.get(path)).status_code == 200, path
            assert (await client.get("/admin/models/a")).json()["expires_at"] == expires
            await clock.advance(6)
            await hk.models.settle()
            states = {m["id"]: m["state"] for m in (await client.get("/admin/models")).json()[
                "data"]}
    assert states == {"a": "unloaded", "b": "unloaded"} and echo.loads == ["a"]
