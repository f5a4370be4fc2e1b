"""Model lifecycle over a scripted backend and a fake clock: failed loads and their
backoff, admin load/unload, preload, shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hoshikage_core.errors import (
    ModelLoadError,
    ShuttingDownError,
)
from hoshikage_core.lifecycle import ModelState
from hoshikage_core.testing.clock import FakeClock
from tests.core.lifecycle_kit import complete, eventually, hold, states
from tests.fakes import EchoBackend

# -- failures -----------------------------------------------------------------


async def test_failed_load_backs_off_then_retries(make: Any, clock: FakeClock,
                                                  echo: EchoBackend) -> None:
    echo.fail_load.add("bad")
    hk = await make({"bad": {}, "good": {}})
    with pytest.raises(ModelLoadError, match="file is corrupt"):
        await complete(hk, "bad")
    info = hk.list_models()[0]
    assert info.state is ModelState.FAILED and "corrupt" in (info.error or "")
    with pytest.raises(ModelLoadError, match="retrying in"):
        await complete(hk, "bad")  # within the backoff: no new attempt
    assert (await complete(hk, "good", "fine")).text == "fine"
    echo.fail_load.clear()
    await clock.advance(3)
    assert (await complete(hk, "bad", "recovered")).text == "recovered"
    assert states(hk)["bad"] == "ready"


async def test_waiters_of_a_failed_load_all_get_the_error(make: Any,
                                                          echo: EchoBackend) -> None:
    echo.fail_load.add("bad")
    hk = await make({"bad": {"max_queue": 8}})
    results = await asyncio.gather(*(complete(hk, "bad") for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, ModelLoadError) for r in results)


# -- admin, preload, shutdown -------------------------------------------------


async def test_admin_unload_waits_for_running_requests(make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {}})
    turnstile = hold(echo)
    running = asyncio.ensure_future(complete(hk, "a", "busy"))
    await eventually(lambda: echo.started == ["busy"])
    unloading = asyncio.ensure_future(hk.models.unload("a"))
    # unload() records the request and schedules at once, before it waits: from then
    # on an unload that did not wait would already be under way
    await eventually(lambda: hk.models.get("a").unload_requested)
    assert not unloading.done() and states(hk) == {"a": "ready"} and echo.unloads == []
    turnstile.release()
    await running
    info = await unloading
    assert info.state is ModelState.UNLOADED and echo.unloads == ["a"]


async def test_admin_load_and_preload(make: Any, echo: EchoBackend) -> None:
    hk = await make({"warm": {"preload": True}, "cold": {}})
    await eventually(lambda: states(hk)["warm"] == "ready")
    assert states(hk)["cold"] == "unloaded"
    info = await hk.models.load("cold")
    assert info.state is ModelState.READY and info.load_seconds is not None
    assert echo.requests == []  # loading is not generating


async def test_shutdown_refuses_queued_work_and_unloads(make: Any, echo: EchoBackend) -> None:
    hk = await make({"a": {}})
    turnstile = hold(echo)
    running = asyncio.ensure_future(complete(hk, "a", "finishing"))
    await eventually(lambda: echo.started == ["finishing"])
    queued = asyncio.ensure_future(complete(hk, "a", "too late"))
    await eventually(lambda: hk.list_models()[0].queued == 1)
    closing = asyncio.ensure_future(hk.aclose())
    with pytest.raises(ShuttingDownError):
        await queued
    turnstile.release()
    assert (await running).text == "finishing"  # running work is allowed to finish
    await closing
    assert states(hk) == {"a": "unloaded"} and echo.unloads == ["a"]
    with pytest.raises(ShuttingDownError):
        await complete(hk, "a")
