"""Scheduling: grant waiting requests their slots, start loads, make room.

All decisions happen on the event loop in :meth:`Scheduler.schedule`, a
synchronous function called whenever something changes (a request arrives or
ends, a load or unload finishes). A model loads when one of its requests is
first in line and it fits under ``max_loaded_models`` and ``memory_budget``;
idle models make room, least recently used first. Busy models are never
interrupted. Models a config reload changed or removed move on here too
(:mod:`.reload`).
"""

from __future__ import annotations

from ..errors import HoshikageError
from .estimate import ensure_estimate
from .fairness import grant, must_yield
from .idle import IdleReaper
from .loader import Loader
from .placement import beside_pinned, choose_victims
from .pool import ModelPool
from .reload import settle_reloaded
from .state import ManagedModel, ModelState, UnloadReason

__all__ = ["Scheduler"]


class Scheduler:
    def __init__(self, pool: ModelPool, loader: Loader, reaper: IdleReaper) -> None:
        self._pool = pool
        self._loader = loader
        self._reaper = reaper

    def schedule(self) -> None:
        """Grant slots, start loads and evictions. Never awaits."""
        pool = self._pool
        for model in list(pool.models.values()):
            if (model.replacement is not None or model.removed) \
                    and settle_reloaded(pool, model):
                self._loader.start_unload(model, UnloadReason.RELOADED)
        models = list(pool.models.values())
        now = pool.clock.monotonic()
        blocked = False  # the first model waiting for room holds the line
        for model in sorted((m for m in models if m.queue), key=ManagedModel.oldest_waiter):
            if model.state is ModelState.READY:
                while (model.queue and model.free_slots > 0 and not model.unload_requested
                       and not must_yield(model, models, pool.fairness_cap)):
                    waiter = model.queue.popleft()
                    if not waiter.future.done():
                        grant(model, models)
                        waiter.future.set_result(None)
            elif model.state in (ModelState.UNLOADED, ModelState.FAILED) and not blocked:
                if model.state is ModelState.FAILED and now < model.retry_at:
                    continue
                blocked = not self._make_room_and_load(model)
        for model in models:
            if model.unload_requested and model.state is ModelState.READY and not model.running:
                self._loader.start_unload(model, UnloadReason.REQUESTED if model.replacement
                                          is None else UnloadReason.RELOADED)
        self._reaper.wake()

    def _make_room_and_load(self, model: ManagedModel) -> bool:
        """Start loading ``model`` if it fits, else evict idle models. True if loading."""
        pool = self._pool
        if model.memory_bytes is None:  # a reload changed it while requests waited
            self._estimate(model)
            return False
        victims = choose_victims(model, list(pool.models.values()), max_loaded=pool.max_loaded,
                                 budget=pool.budget, evictable=self._evictable)
        if victims == []:
            self._loader.start_load(model)
            return True
        if victims is None:
            refused = beside_pinned(model, pool.models.values(), pool.max_loaded, pool.budget)
            if refused is not None:  # pinned since they came: no wait
                model.fail_waiters(refused)
            return False  # only busy models stand in the way: wait for them, evict nothing yet
        for victim in victims:
            # A model that yields with requests still queued sends them to the back of
            # the line, so the model it yielded to goes first.
            for waiter in victim.queue:
                waiter.order = pool.ticket()
            self._loader.start_unload(victim, UnloadReason.EVICTED,
                                      f"making room for {model.name}")
        return False

    def _estimate(self, model: ManagedModel) -> None:
        """Estimate ``model``'s memory, then schedule again (its waiters fail if it
        cannot be estimated or never fits)."""
        if model.estimating is not None and not model.estimating.done():
            return

        async def estimate() -> None:
            try:
                await ensure_estimate(self._pool, model, self._loader.fail)
            except HoshikageError as exc:
                model.fail_waiters(exc)
            finally:
                self.schedule()

        self._pool.spawn(estimate())

    def _evictable(self, model: ManagedModel) -> bool:
        return (model.state is ModelState.READY and model.running == 0 and not model.pinned
                and (not model.queue or must_yield(model, self._pool.models.values(),
                                                   self._pool.fairness_cap)))
