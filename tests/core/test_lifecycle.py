"""Model lifecycle over a scripted backend and a fake clock: idle timeouts and
keep_alive, LRU and budget eviction, queues and capacity, fairness. Time moves only
when a test calls ``clock.advance``; waits are bounded by counts of event-loop
turns, never by wall-clock asserts. (Failures, admin and shutdown:
test_lifecycle_admin.py.)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from hoshikage_core.errors import (
    ModelTooLargeError,
    QueueFullError,
)
from hoshikage_core.lifecycle import ModelState
from hoshikage_core.testing.clock import FakeClock
from tests.core.lifecycle_kit import complete, eventually, hold, states
from tests.fakes import EchoBackend

# -- idle unloading -----------------------------------------------------------


async def test_idle_timeout_counts_from_the_end_of_the_last_request(
        make: Any, clock: FakeClock, echo: EchoBackend) -> None:
    hk = await make({"a": {}}, idle_timeout="5m")
    turnstile = hold(echo)
    running = asyncio.ensure_future(complete(hk, "a"))
    await eventually(lambda: echo.started == ["hi"])
    await clock.advance(3600)  # a long request: never unloaded while it runs
    assert states(hk) == {"a": "ready"}
    turnstile.release()
    await running
    await clock.advance(299)
    assert states(hk) == {"a": "ready"}
    info = hk.list_models()[0]
    assert info.expires_at == pytest.approx(clock.time() + 1)
    await clock.advance(2)
    await hk.models.settle()
    assert states(hk) == {"a": "unloaded"} and echo.unloads == ["a"]


async def test_status_calls_do_not_reset_the_timer(make: Any, clock: FakeClock) -> None:
    hk = await make({"a": {}}, idle_timeout="10s")
    await complete(hk, "a")
    await clock.advance(6)
    hk.list_models()
    await clock.advance(6)
    await hk.models.settle()
    assert states(hk) == {"a": "unloaded"}


async def test_idle_timeout_forever_and_zero(make: Any, clock: FakeClock) -> None:
    hk = await make({"keep": {"idle_timeout": -1}, "drop": {"idle_timeout": 0}})
    await complete(hk, "keep")
    await complete(hk, "drop")
    await clock.advance(0)
    await hk.models.settle()
    await clock.advance(10**7)
    await hk.models.settle()
    assert states(hk) == {"keep": "ready", "drop": "unloaded"}
    assert hk.list_models()[0].expires_at is None


async def test_keep_alive_governs_only_the_expiry_after_its_own_request(
        make: Any, clock: FakeClock, echo: EchoBackend) -> None:
    hk = await make({"a": {}}, idle_timeout="1h")
    await complete(hk, "a", keep_alive=0.0)
    await clock.advance(0)
    await hk.models.settle()
    assert states(hk) == {"a": "unloaded"}
    await complete(hk, "a")  # no keep_alive: the model's idle_timeout again
    await clock.advance(600)
    assert states(hk) == {"a": "ready"}
    assert hk.list_models()[0].expires_at == pytest.approx(clock.time() + 3000)
    await complete(hk, "a", keep_alive=30.0)
    await clock.advance(29)
    assert states(hk) == {"a": "ready"}
    await clock.advance(2)
    await hk.models.settle()
    assert states(hk) == {"a": "unloaded"} and echo.loads == ["a", "a"]


async def test_a_load_after_keep_alive_zero_uses_the_idle_timeout(
        make: Any, clock: FakeClock) -> None:
    hk = await make({"a": {}}, idle_timeout="10m")
    await complete(hk, "a", keep_alive=0.0)
    await clock.advance(0)
    await hk.models.settle()
    info = await hk.models.load("a")
    assert info.state is ModelState.READY
    assert info.expires_at == pytest.approx(clock.time() + 600)
    await clock.advance(599)
    await hk.models.settle()
    assert states(hk) == {"a": "ready"}


async def test_of_overlapping_requests_the_last_to_finish_sets_the_expiry(
        make: Any, clock: FakeClock, echo: EchoBackend) -> None:
    hk = await make({"a": {"parallel": 2}}, idle_timeout="1h")
    turnstile = hold(echo)
    long = asyncio.ensure_future(complete(hk, "a", "long", keep_alive=60.0))
    short = asyncio.ensure_future(complete(hk, "a", "short", keep_alive=30.0))
    await eventually(lambda: len(echo.started) == 2)
    turnstile.release()
    await eventually(lambda: len(echo.finished) == 1)
    assert hk.list_models()[0].expires_at is None  # one still runs: no expiry yet
    turnstile.release()
    await asyncio.gather(long, short)
    last = echo.finished[-1]
    expected = {"long": 60.0, "short": 30.0}[last]
    assert hk.list_models()[0].expires_at == pytest.approx(clock.time() + expected)


async def test_queued_requests_keep_a_model_loaded(make: Any, clock: FakeClock,
                                                   echo: EchoBackend) -> None:
    hk = await make({"a": {}}, idle_timeout=0)
    turnstile = hold(echo)
    first = asyncio.ensure_future(complete(hk, "a", "one"))
    second = asyncio.ensure_future(complete(hk, "a", "two"))
    await eventually(lambda: hk.list_models()[0].queued == 1)
    turnstile.release()
    await first
    await clock.advance(0)
    assert states(hk) == {"a": "ready"}  # "two" is waiting for it
    turnstile.release()
    await second
    await clock.advance(0)
    await hk.models.settle()
    assert states(hk) == {"a": "unloaded"}
    assert echo.loads == ["a"]


# -- residency ----------------------------------------------------------------


async def test_max_loaded_models_evicts_the_least_recently_used(
        make: Any, clock: FakeClock, echo: EchoBackend) -> None:
    hk = await make({"a": {}, "b": {}, "c": {}}, max_loaded_models=2, idle_timeout=-1)
    await complete(hk, "a")
    await clock.advance(1)
    await complete(hk, "b")
    await clock.advance(1)
    await complete(hk, "a")  # a is now more recent than b
    await clock.advance(1)
    await complete(hk, "c")
    assert states(hk) == {"a": "ready", "b": "unloaded", "c": "ready"}
    assert echo.unloads == ["b"]


async def test_switching_with_one_slot_waits_for_running_requests(
        make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {}, "b": {}}, max_loaded_models=1, idle_timeout=-1)
    turnstile = hold(echo)
    on_a = asyncio.ensure_future(complete(hk, "a", "long one"))
    await eventually(lambda: echo.started == ["long one"])
    on_b = asyncio.ensure_future(complete(hk, "b", "next"))
    await eventually(lambda: hk.list_models()[1].queued == 1)
    assert states(hk) == {"a": "ready", "b": "unloaded"}  # a is never interrupted
    turnstile.release()
    assert (await on_a).text == "long one"
    await eventually(lambda: echo.started == ["long one", "next"])
    turnstile.release()
    assert (await on_b).text == "next"
    assert echo.loads == ["a", "b"] and echo.unloads == ["a"]
    assert states(hk) == {"a": "unloaded", "b": "ready"}


async def test_memory_budget_evicts_and_refuses_what_never_fits(
        make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {"options": {"memory": 600}}, "b": {"options": {"memory": 600}},
                     "small": {"options": {"memory": 300}},
                     "huge": {"options": {"memory": 5000}}},
                    memory_budget=1000, max_loaded_models=10, idle_timeout=-1)
    await complete(hk, "a")
    await complete(hk, "small")
    assert states(hk)["a"] == "ready" and states(hk)["small"] == "ready"
    await complete(hk, "b")  # 600 + 300 + 600 > 1000: the LRU (a) goes
    assert states(hk) == {"a": "unloaded", "b": "ready", "small": "ready", "huge": "unloaded"}
    with pytest.raises(ModelTooLargeError) as info:
        await complete(hk, "huge")
    assert "4.9 KiB" in info.value.message and "1000 B" in info.value.message
    assert [m.memory_bytes for m in hk.list_models()] == [600, 600, 300, 5000]
    assert "huge" not in echo.loads


async def test_when_only_busy_models_stand_in_the_way_the_request_waits(
        make: Any, echo: EchoBackend) -> None:
    """Nothing idle is unloaded while that would not make room anyway."""
    hk = await make({"a": {"options": {"memory": 700}}, "b": {"options": {"memory": 700}},
                     "small": {"options": {"memory": 200}}},
                    memory_budget=1000, max_loaded_models=10, idle_timeout=-1)
    await complete(hk, "small")
    turnstile = hold(echo)
    on_a = asyncio.ensure_future(complete(hk, "a", "long one"))
    await eventually(lambda: echo.started[-1:] == ["long one"])
    on_b = asyncio.ensure_future(complete(hk, "b", "waits"))
    await eventually(lambda: hk.list_models()[1].queued == 1)
    assert states(hk) == {"a": "ready", "b": "unloaded", "small": "ready"}
    assert echo.unloads == []  # small stays: unloading it alone would not fit b
    turnstile.release()
    await on_a
    await eventually(lambda: "waits" in echo.started)
    turnstile.release()
    assert (await on_b).text == "waits"
    assert states(hk)["b"] == "ready" and "a" in echo.unloads


async def test_fairness_cap_batches_requests_by_model(make: Any, echo: EchoBackend) -> None:
    """Alternating clients with one model slot: grouped by model, none starved."""
    hk = await make({"a": {}, "b": {}}, max_loaded_models=1, fairness_cap=2, idle_timeout=-1)
    turnstile = hold(echo)
    tasks = [asyncio.ensure_future(complete(hk, "a", "a0"))]
    await eventually(lambda: echo.started == ["a0"])
    for i in range(1, 4):  # then b1 a1 b2 a2 b3 a3 arrive alternately
        for name in ("b", "a"):
            tasks.append(asyncio.ensure_future(complete(hk, name, f"{name}{i}")))
            await eventually(lambda n=name, i=i: len(hk.models.get(n).queue) == i)
    for _ in range(7):
        turnstile.release()
    await asyncio.gather(*tasks)
    # while b waits, a serves at most fairness_cap (2) more requests; then b gets the
    # slot for 2 of its own while a waits, and so on: grouped, and nobody starves
    assert echo.finished == ["a0", "a1", "a2", "b1", "b2", "a3", "b3"]
    assert echo.loads == ["a", "b", "a", "b"]


# -- concurrency --------------------------------------------------------------


async def test_parallel_one_serves_in_arrival_order(make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {}})
    turnstile = hold(echo)
    tasks = []
    for i in range(3):
        tasks.append(asyncio.ensure_future(complete(hk, "a", f"r{i}")))
        await eventually(lambda i=i: len(echo.started) + hk.list_models()[0].queued == i + 1)
    assert hk.list_models()[0].running == 1 and hk.list_models()[0].queued == 2
    for _ in range(3):
        turnstile.release()
    await asyncio.gather(*tasks)
    assert echo.finished == ["r0", "r1", "r2"]


async def test_parallel_slots_run_together(make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {"parallel": 2}})
    turnstile = hold(echo)
    tasks = [asyncio.ensure_future(complete(hk, "a", f"r{i}")) for i in range(3)]
    await eventually(lambda: len(echo.started) == 2)
    info = hk.list_models()[0]
    assert (info.running, info.queued) == (2, 1)
    for _ in range(3):
        turnstile.release()
    await asyncio.gather(*tasks)


async def test_full_queue_answers_503_with_retry_after(make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {"max_queue": 1}})
    turnstile = hold(echo)
    running = asyncio.ensure_future(complete(hk, "a", "one"))
    await eventually(lambda: echo.started == ["one"])
    queued = asyncio.ensure_future(complete(hk, "a", "two"))
    await eventually(lambda: hk.list_models()[0].queued == 1)
    with pytest.raises(QueueFullError) as info:
        await complete(hk, "a", "three")
    assert info.value.status_code == 503 and int(info.value.headers["Retry-After"]) >= 1
    turnstile.release()
    turnstile.release()
    await asyncio.gather(running, queued)
    assert echo.finished == ["one", "two"]


@pytest.mark.parametrize("cold", [True, False], ids=["loading", "ready"])
async def test_capacity_is_parallel_plus_max_queue_loaded_or_not(
        make: Any, echo: EchoBackend, cold: bool) -> None:
    hk = await make({"a": {"parallel": 1, "max_queue": 2}})
    if not cold:
        await hk.models.load("a")
    echo.load_gate = threading.Event()
    turnstile = hold(echo)
    tasks = [asyncio.ensure_future(complete(hk, "a", f"r{i}")) for i in range(3)]
    await eventually(lambda: hk.list_models()[0].queued + hk.list_models()[0].running == 3)
    assert hk.list_models()[0].state is (ModelState.LOADING if cold else ModelState.READY)
    with pytest.raises(QueueFullError, match="2 requests are already waiting"):
        await complete(hk, "a", "one too many")
    echo.load_gate.set()
    for _ in range(3):
        turnstile.release()
    assert [r.text for r in await asyncio.gather(*tasks)] == ["r0", "r1", "r2"]


async def test_a_queued_request_whose_client_left_is_dropped(make: Any,
                                                              echo: EchoBackend) -> None:
    hk = await make({"a": {}})
    turnstile = hold(echo)
    running = asyncio.ensure_future(complete(hk, "a", "one"))
    await eventually(lambda: echo.started == ["one"])
    gone = asyncio.ensure_future(complete(hk, "a", "gone"))
    await eventually(lambda: hk.list_models()[0].queued == 1)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert hk.list_models()[0].queued == 0
    turnstile.release()
    await running
    turnstile.release()
    assert (await complete(hk, "a", "after")).text == "after"
    assert echo.started == ["one", "after"]  # "gone" never ran
