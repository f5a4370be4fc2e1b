"""Fixtures of the lifecycle tests: a fake clock, a scripted backend, and a factory of
started Hoshikages over them (closed at the end)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hoshikage_core import Hoshikage
from hoshikage_core.testing.clock import FakeClock
from tests.core.lifecycle_kit import build
from tests.fakes import EchoBackend


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def echo() -> EchoBackend:
    return EchoBackend()


@pytest.fixture
async def make(tmp_path: Path, clock: FakeClock, echo: EchoBackend
               ) -> AsyncIterator[Callable[..., Awaitable[Hoshikage]]]:
    made: list[Hoshikage] = []

    async def factory(models: dict[str, dict[str, Any]], **defaults: Any) -> Hoshikage:
        hk = Hoshikage(build(tmp_path, models, **defaults), plugins={"echo": echo}, clock=clock)
        await hk.start()
        made.append(hk)
        return hk

    yield factory
    if echo.turnstile is not None:  # let anything still held finish
        for _ in range(100):
            echo.turnstile.release()
    for hk in made:
        await hk.aclose()
