"""Pinned models (``pinned = true``, ``Hoshikage.pin``): never unloaded by the idle
timer or to make room, counted in the limits, and a model that cannot fit beside them
refused at once, naming them. Fake clock and scripted backend, as test_lifecycle.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hoshikage_core.errors import PinnedModelsInTheWayError
from hoshikage_core.testing.clock import FakeClock
from tests.core.lifecycle_kit import complete, eventually, hold, states
from tests.fakes import EchoBackend


async def test_a_pinned_model_outlives_its_idle_timeout(make: Any, clock: FakeClock) -> None:
    hk = await make({"kept": {"pinned": True}, "other": {}}, idle_timeout="10s")
    await complete(hk, "kept")
    await complete(hk, "other")
    await clock.advance(3600)
    await hk.models.settle()
    assert states(hk) == {"kept": "ready", "other": "unloaded"}
    assert hk.get("kept").pinned and hk.get("kept").expires_at is None


async def test_no_room_beside_pinned_models_is_refused_naming_them(
        make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {"pinned": True, "options": {"memory": 600}},
                     "b": {"options": {"memory": 600}}, "small": {"options": {"memory": 300}}},
                    memory_budget=1000, max_loaded_models=10, idle_timeout=-1)
    await complete(hk, "a")
    with pytest.raises(PinnedModelsInTheWayError) as refused:
        await complete(hk, "b")  # 600 + 600 > 1000, and a never makes room
    assert refused.value.status_code == 503
    assert "'a' (600 B)" in refused.value.message and "hoshikage unpin a" in refused.value.message
    await complete(hk, "small")  # what fits beside the pinned model loads as usual
    assert "b" not in echo.loads and states(hk)["small"] == "ready"
    hk.pin("a", pinned=False)
    await complete(hk, "b")  # unpinned: a is the least recently used and goes
    assert states(hk) == {"a": "unloaded", "b": "ready", "small": "ready"}


async def test_pinned_models_are_not_evicted_by_max_loaded_models(make: Any) -> None:
    hk = await make({"a": {}, "b": {}}, max_loaded_models=1, idle_timeout=-1)
    await complete(hk, "a")
    assert hk.pin("a").pinned
    with pytest.raises(PinnedModelsInTheWayError, match="max_loaded_models = 1"):
        await complete(hk, "b")
    assert states(hk) == {"a": "ready", "b": "unloaded"}


async def test_unpinning_starts_the_idle_timer_now(make: Any, clock: FakeClock) -> None:
    hk = await make({"a": {}}, idle_timeout="10s")
    await complete(hk, "a")
    hk.pin("a")
    await clock.advance(60)
    assert states(hk) == {"a": "ready"}
    hk.pin("a", pinned=False)
    assert hk.get("a").expires_at == pytest.approx(clock.time() + 10)
    await clock.advance(11)
    await hk.models.settle()
    assert states(hk) == {"a": "unloaded"}


async def test_a_request_waiting_when_its_way_gets_pinned_is_refused(
        make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {}, "b": {}}, max_loaded_models=1, idle_timeout=-1)
    turnstile = hold(echo)
    on_a = asyncio.ensure_future(complete(hk, "a", "long one"))
    await eventually(lambda: echo.started == ["long one"])
    on_b = asyncio.ensure_future(complete(hk, "b", "next"))
    await eventually(lambda: hk.get("b").queued == 1)
    hk.pin("a")  # b now waits for room that never comes: told so at once
    with pytest.raises(PinnedModelsInTheWayError):
        await on_b
    turnstile.release()
    assert (await on_a).text == "long one"
    assert echo.loads == ["a"]
