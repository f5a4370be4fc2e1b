"""Idle unloading: a task that unloads each model once its idle timeout has passed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..clock import Clock
from .state import ManagedModel

__all__ = ["IdleReaper"]


class IdleReaper:
    """Sleeps until the earliest idle deadline (on ``clock``), unloads what expired,
    and sleeps again; :meth:`wake` makes it look again after anything changed."""

    def __init__(self, models: Iterable[ManagedModel], clock: Clock,
                 unload: Callable[[ManagedModel], None]) -> None:
        self._models = models  # a live view: models a reload adds are watched too
        self._clock = clock
        self._unload = unload
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        """Start on the running event loop (once; never after :meth:`stop`)."""
        if self._task is None and not self._stopped:
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def reap(self) -> None:
        """Unload every idle model whose idle timeout has passed."""
        now = self._clock.monotonic()
        for model in self._models:
            if model.is_idle and model.expires_at is not None and model.expires_at <= now:
                self._unload(model)

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            self.reap()
            deadlines = [m.expires_at for m in self._models
                         if m.is_idle and m.expires_at is not None]
            self._wakeup.clear()
            delay = min(deadlines) - self._clock.monotonic() if deadlines else None
            await _first_of(self._wakeup.wait(),
                            self._clock.sleep(delay) if delay is not None else None)


async def _first_of(*awaitables: Awaitable[Any] | None) -> None:
    """Wait until the first of ``awaitables`` (None entries ignored) finishes."""
    tasks = [asyncio.ensure_future(a) for a in awaitables if a is not None]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
