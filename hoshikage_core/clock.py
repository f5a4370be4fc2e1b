"""Time, injectable: the model manager asks a Clock, so tests can move time by hand."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """What the model manager needs to know about time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; for timeouts."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch; for display."""

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` on this clock."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
