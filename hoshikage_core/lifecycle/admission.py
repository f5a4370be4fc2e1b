"""Admission: a request takes one of its model's slots or waits in its queue.

A model takes ``parallel + max_queue`` requests at once in every state: while it
loads, the first ``parallel`` waiters hold the slots they will run in. Beyond
that, 503 with a Retry-After from the model's recent request durations.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from ..errors import ModelNotFoundError, QueueFullError, ShuttingDownError
from .estimate import ensure_estimate
from .fairness import can_start_now, grant
from .loader import Loader
from .placement import beside_pinned
from .pool import ModelPool
from .state import ManagedModel, ModelState, Waiter

__all__ = ["Admission"]


class Admission:
    """Slots and queues of every model; ``schedule()`` runs after each change."""

    def __init__(self, pool: ModelPool, loader: Loader, schedule: Callable[[], None],
                 start_reaper: Callable[[], None]) -> None:
        self._pool = pool
        self._loader = loader
        self._schedule = schedule
        self._start_reaper = start_reaper

    async def acquire(self, model: ManagedModel) -> None:
        """Return once ``model`` is ready and one of its slots is ours."""
        pool = self._pool
        ticket = pool.ticket()  # arrival order, taken before anything awaits
        self._start_reaper()
        if pool.closing:
            raise ShuttingDownError("The server is shutting down.")
        pool.capabilities(model)
        await ensure_estimate(pool, model, self._loader.fail)
        if pool.models.get(model.name) is not model:  # a reload removed it meanwhile
            raise ModelNotFoundError(model.name, available=pool.served_names())
        refused = beside_pinned(model, pool.models.values(), pool.max_loaded, pool.budget)
        if refused is not None:
            raise refused
        if model.state is ModelState.FAILED and pool.clock.monotonic() < model.retry_at:
            raise self._loader.backing_off(model)
        models = pool.models.values()
        if can_start_now(model, models, pool.fairness_cap):
            grant(model, models)
            return
        if model.running + len(model.queue) >= model.capacity:
            waiting = model.running + len(model.queue) - model.settings.parallel
            raise QueueFullError(model.name, waiting, self.retry_after(model))
        waiter = Waiter(asyncio.get_running_loop().create_future(), ticket)
        model.enqueue(waiter)
        model.expires_at = None
        self._schedule()
        try:
            await waiter.future
        except asyncio.CancelledError:
            # The client left while waiting. Give back a slot granted in the same instant.
            if waiter in model.queue:
                model.queue.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled() \
                    and waiter.future.exception() is None:
                self.release(model, None, None)
            self._schedule()
            raise

    def release(self, model: ManagedModel, seconds: float | None,
                keep_alive: float | None) -> None:
        """A request is done with its slot; ``keep_alive`` (its own, if it sent one)
        sets how long the model stays loaded if it was the last."""
        now = self._pool.clock.monotonic()
        model.running -= 1
        model.last_used = now
        if seconds is not None:
            model.average_seconds = 0.8 * model.average_seconds + 0.2 * seconds
        if model.running == 0 and not model.queue:
            model.mark_idle(now, keep_alive)
        self._schedule()

    def retry_after(self, model: ManagedModel) -> int:
        waiting = len(model.queue) + model.running
        estimate = model.average_seconds * waiting / model.settings.parallel
        return int(min(300, max(1, math.ceil(estimate))))
