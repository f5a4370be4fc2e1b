"""Opening a stream: at once when the first event comes in time, else with
``Waiting`` markers until it does (bounded by events, not by clocks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from hoshikage_core.api.streaming import Waiting, open_patiently
from hoshikage_core.errors import InvalidRequestError


async def gated(gate: asyncio.Event, closed: list[bool]) -> AsyncGenerator[str, None]:
    try:
        await gate.wait()
        yield "first"
        yield "second"
    finally:
        closed.append(True)


async def test_a_first_event_in_time_opens_the_stream_directly() -> None:
    gate, closed = asyncio.Event(), []
    gate.set()
    first, rest = await open_patiently(gated(gate, closed), patience=60)
    assert first == "first" and [e async for e in rest] == ["second"] and closed


async def test_a_late_first_event_starts_the_stream_with_waiting_markers() -> None:
    gate, closed = asyncio.Event(), []
    first, rest = await open_patiently(gated(gate, closed), patience=0.001)
    assert isinstance(first, Waiting)
    assert isinstance(await rest.__anext__(), Waiting)  # still nothing: another marker
    gate.set()
    seen = [e async for e in rest]
    assert [e for e in seen if not isinstance(e, Waiting)] == ["first", "second"] and closed


async def test_closing_a_waiting_stream_cancels_the_generation() -> None:
    gate, closed = asyncio.Event(), []
    first, rest = await open_patiently(gated(gate, closed), patience=0.001)
    assert isinstance(first, Waiting)
    await rest.aclose()
    assert closed


async def test_an_early_error_is_raised_before_the_stream_starts() -> None:
    async def failing() -> AsyncGenerator[str, None]:
        raise InvalidRequestError("bad")
        yield "never"

    with pytest.raises(InvalidRequestError):
        await open_patiently(failing(), patience=60)


async def test_a_client_leaving_before_the_first_event_stops_the_generation() -> None:
    gate, closed = asyncio.Event(), []
    opening = asyncio.ensure_future(open_patiently(gated(gate, closed), patience=3600))
    await asyncio.sleep(0)  # it waits for the first event
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert closed
