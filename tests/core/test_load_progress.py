"""Load progress: from a backend's thread to listeners, the admin status and the log."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from hoshikage_core import Hoshikage, create_app
from hoshikage_core.lifecycle import LoadEvent, ModelState
from hoshikage_core.testing.clock import FakeClock
from tests.api.test_api_errors import assert_openai_error
from tests.core.lifecycle_kit import build, eventually
from tests.fakes import EchoBackend, ProgressBackend


def summary(events: list[LoadEvent]) -> list[tuple[str, str, float | None]]:
    return [(e.model, e.state.value, e.progress) for e in events]


async def test_listeners_see_whole_percent_steps_then_ready(tmp_path: Path) -> None:
    backend = ProgressBackend(load_progress=(0.1, 0.104, 0.5, 0.5, 0.3, 1.0))
    async with Hoshikage(build(tmp_path, {"a": {}}), plugins={"echo": backend}) as hk:
        events: list[LoadEvent] = []
        stop = hk.watch_loads(events.append)
        await hk.models.load("a")
        stop()
        await hk.models.unload("a")
        await hk.models.load("a")
    # 0.104 is still 10%, the repeated 0.5 and the step back to 0.3 are dropped
    assert summary(events) == [("a", "loading", None), ("a", "loading", 0.1),
                               ("a", "loading", 0.5), ("a", "loading", 1.0),
                               ("a", "ready", 1.0)]
    assert events[-1].done and not events[0].done


async def test_a_backend_without_progress_still_announces_start_and_end(
        tmp_path: Path) -> None:
    async with Hoshikage(build(tmp_path, {"a": {}}), plugins={"echo": EchoBackend()}) as hk:
        events: list[LoadEvent] = []
        hk.watch_loads(events.append)
        await hk.models.load("a")
    assert summary(events) == [("a", "loading", None), ("a", "ready", 1.0)]


async def test_status_shows_the_percentage_while_loading(tmp_path: Path) -> None:
    gates = [threading.Event(), threading.Event()]
    backend = ProgressBackend(load_progress=(0.42, 0.9), load_gates=gates)
    async with Hoshikage(build(tmp_path, {"a": {}}), plugins={"echo": backend}) as hk:
        loading = asyncio.ensure_future(hk.models.load("a"))

        def info() -> Any:
            return hk.list_models()[0]

        await eventually(lambda: info().state is ModelState.LOADING)
        assert info().load_progress is None  # nothing reported yet
        gates[0].set()
        await eventually(lambda: info().load_progress == 0.42)
        assert info().to_dict()["load_progress"] == 0.42
        gates[1].set()
        await loading
        assert info().state is ModelState.READY and info().load_progress is None


async def test_slow_loads_log_their_progress_by_the_clock(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    gates = [threading.Event(), threading.Event()]
    backend = ProgressBackend(load_progress=(0.2, 0.6), load_gates=gates)
    caplog.set_level(logging.INFO, logger="hoshikage_core.lifecycle")
    async with Hoshikage(build(tmp_path, {"a": {}}), plugins={"echo": backend},
                         clock=clock) as hk:
        loading = asyncio.ensure_future(hk.models.load("a"))
        await eventually(lambda: hk.list_models()[0].state is ModelState.LOADING)
        gates[0].set()  # 20% comes at once: not worth a log line
        await eventually(lambda: hk.list_models()[0].load_progress == 0.2)
        await clock.advance(3)
        gates[1].set()  # 60% comes 3 s later: logged
        await loading
    lines = [r.getMessage() for r in caplog.records if "loading model a:" in r.getMessage()]
    assert lines == ["loading model a: 60%"]


async def test_a_failed_load_ends_with_its_reason(tmp_path: Path) -> None:
    backend = ProgressBackend(load_progress=(0.5,), fail_load={"a"})
    async with Hoshikage(build(tmp_path, {"a": {}}), plugins={"echo": backend}) as hk:
        events: list[LoadEvent] = []
        hk.watch_loads(events.append)
        with pytest.raises(Exception, match="file is corrupt"):
            await hk.models.load("a")
    assert events[-1].state is ModelState.FAILED and "file is corrupt" in str(events[-1].error)
    assert events[-1].done


async def test_a_broken_listener_breaks_nothing(tmp_path: Path) -> None:
    def broken(event: LoadEvent) -> None:
        raise ValueError("listener bug")

    async with Hoshikage(build(tmp_path, {"a": {}}), plugins={"echo": ProgressBackend(
            load_progress=(0.5,))}) as hk:
        hk.watch_loads(broken)
        assert (await hk.models.load("a")).state is ModelState.READY


async def load_lines(client: httpx.AsyncClient, model: str) -> list[dict[str, Any]]:
    response = await client.post(f"/admin/models/{model}/load", params={"stream": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


async def test_admin_load_streams_progress_lines(tmp_path: Path) -> None:
    backend = ProgressBackend(load_progress=(0.25, 0.75), fail_load={"broken"})
    async with Hoshikage(build(tmp_path, {"a": {"aliases": ["x"]}, "broken": {}}),
                         plugins={"echo": backend}) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            lines = await load_lines(client, "x")
            assert [(line["state"], line.get("load_progress")) for line in lines] == [
                ("loading", None), ("loading", 0.25), ("loading", 0.75), ("ready", None)]
            assert lines[-1]["id"] == "a" and lines[-1]["memory_bytes"] == 10
            again = await load_lines(client, "a")  # already loaded: just the status
            assert [line["state"] for line in again] == ["ready"]
            failed = await load_lines(client, "broken")
            assert "file is corrupt" in failed[-1]["error"]["message"]
            assert_openai_error(await client.post("/admin/models/nope/load?stream=true"), 404,
                                code="model_not_found")
