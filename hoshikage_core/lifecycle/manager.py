"""The model manager: the lifecycle's one entry, wiring its parts together.

- :mod:`.admission`: a request takes a slot or waits (``parallel + max_queue``);
- :mod:`.scheduler`: slots are granted, loads started, idle models evicted (LRU);
- :mod:`.loader`: loads and unloads in worker threads, progress, failure backoff;
- :mod:`.idle`: a model unloads ``idle_timeout`` after its last request ended
  (or that request's own ``keep_alive``);
- :mod:`.fairness`: a busy model others wait for serves at most ``fairness_cap``
  more requests, then drains and makes room;
- :mod:`.metering`: per-generation metrics;
- :mod:`.reload`: a reloaded config's models: kept, changed, added, removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from concurrent.futures import Executor
from contextlib import aclosing
from typing import Any, TypeVar

from ..clock import Clock
from ..config.schema import HoshikageConfig
from ..errors import HoshikageError, ShuttingDownError
from ..ops.metrics import Metrics
from ..plugins.capabilities import Capabilities
from ..plugins.dispatch import BackendDispatcher
from ..plugins.registry import PluginRegistry
from ..types import Chunk, GenerationRequest
from .admission import Admission
from .defaults import with_model_defaults
from .idle import IdleReaper
from .loader import Loader
from .metering import metered
from .pool import ModelPool
from .progress import LoadListener, LoadWatchers
from .reload import ModelChanges, apply_config
from .scheduler import Scheduler
from .state import ManagedModel, ModelInfo, ModelState, UnloadReason
from .threads import iterate_in_thread

__all__ = ["ModelManager"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class ModelManager:
    """All configured models of one :class:`~hoshikage_core.Hoshikage`."""

    def __init__(self, config: HoshikageConfig, plugins: PluginRegistry, executor: Executor,
                 clock: Clock, metrics: Metrics | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        """``options``: per model, the backend's normalised options (what its
        ``hoshikage_validate_options`` returned), passed to its hooks as ``spec.options``."""
        self._pool = pool = ModelPool(config, plugins, executor, clock, metrics or Metrics(),
                                      options)
        self._watchers = LoadWatchers()
        self._reaper = IdleReaper(pool.models.values(), clock,
                                  lambda model: self._loader.start_unload(model,
                                                                          UnloadReason.IDLE))
        self._loader = Loader(pool, self._watchers, self._schedule)
        self._scheduler = Scheduler(pool, self._loader, self._reaper)
        self._admission = Admission(pool, self._loader, self._schedule, self._reaper.start)

    def _schedule(self) -> None:
        self._scheduler.schedule()

    # -- lookup ----------------------------------------------------------------

    def names(self) -> list[str]:
        return self._pool.served_names()

    def get(self, name_or_alias: str) -> ManagedModel:
        """The model called ``name_or_alias``; :class:`ModelNotFoundError` if none."""
        return self._pool.get(name_or_alias)

    def capabilities(self, name_or_alias: str) -> Capabilities:
        """What the model's backend can do (503 if it cannot run here)."""
        return self._pool.capabilities(self.get(name_or_alias))

    def watch_loads(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener`` on the event loop as loads start, advance and end.

        Returns a function that stops it.
        """
        return self._watchers.add(listener)

    def infos(self) -> list[ModelInfo]:
        now, wall = self._pool.clock.monotonic(), self._pool.clock.time()
        return [m.info(now, wall) for m in self._pool.models.values()]

    def info(self, name_or_alias: str) -> ModelInfo:
        return self._info(self.get(name_or_alias))

    # -- running requests ------------------------------------------------------

    async def generate(self, request: GenerationRequest, *,
                       keep_alive: float | None = None) -> AsyncGenerator[Chunk, None]:
        """Stream chunks for ``request``: wait for a slot, load if needed, generate."""
        model = self.get(request.model)
        request = with_model_defaults(request, model)
        self._pool.capabilities(model).refuse_unsupported(request, model=model.name)
        await self._admission.acquire(model)
        started = time.perf_counter()
        try:
            backend, handle = self._pool.backend(model), model.handle
            stream = iterate_in_thread(lambda: backend.generate(handle, request),
                                       self._pool.executor)
            async with aclosing(metered(stream, self._pool.metrics, model.name,
                                        started)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            self._admission.release(model, time.perf_counter() - started, keep_alive)

    async def use(self, name_or_alias: str, work: Callable[[BackendDispatcher, Any], T], *,
                  keep_alive: float | None = None) -> T:
        """Run ``work(backend, handle)`` in a worker thread with the model loaded.

        For embeddings, tokenizing and the like: it takes a slot like a
        generation, so the model is neither unloaded nor shared mid-call.
        """
        model = self.get(name_or_alias)
        await self._admission.acquire(model)
        started = time.perf_counter()
        backend, handle = self._pool.backend(model), model.handle
        job = asyncio.get_running_loop().run_in_executor(self._pool.executor, work, backend,
                                                         handle)
        try:
            return await asyncio.shield(job)
        finally:
            if not job.done():  # cancelled: the thread still uses the handle; wait for it
                await asyncio.wait([job])
            self._admission.release(model, time.perf_counter() - started, keep_alive)

    async def chat_template(self, name_or_alias: str) -> Any:
        """The backend's chat template for the model (``None`` if it has none for
        Hoshikage to render); learned at its first load, which this may cause."""
        model = self.get(name_or_alias)
        if not self._pool.capabilities(model).has("hoshikage_chat_template"):
            return None
        if model.chat_template is None:
            await self.load(model.name)
        return model.chat_template

    def reap_idle(self) -> None:
        """Unload every idle model whose idle timeout has passed (now, not on the clock)."""
        self._reaper.reap()

    # -- admin -----------------------------------------------------------------

    async def load(self, name_or_alias: str, *, keep_alive: float | None = None) -> ModelInfo:
        """Load a model now (through the same queue and limits as requests); it then
        stays loaded for ``keep_alive`` seconds if given, else its ``idle_timeout``."""
        model = self.get(name_or_alias)
        await self._admission.acquire(model)
        self._admission.release(model, None, keep_alive)
        return self._info(model)

    async def unload(self, name_or_alias: str) -> ModelInfo:
        """Unload a model once its running requests have finished."""
        model = self.get(name_or_alias)
        self._reaper.start()
        if model.state in (ModelState.LOADING, ModelState.READY, ModelState.UNLOADING):
            model.unload_requested = model.state is not ModelState.UNLOADING
            self._schedule()
            await model.unloaded.wait()
        return self._info(model)

    def pin(self, name_or_alias: str, pinned: bool = True) -> ModelInfo:
        """Pin (never unloaded by the idle timer or to make room) or unpin a model; an
        idle model unpinned starts its idle timer now."""
        model = self.get(name_or_alias)
        model.pinned = pinned
        if pinned:
            model.expires_at = None
        elif model.is_idle:
            model.mark_idle(self._pool.clock.monotonic())
        self._reaper.wake()
        self._schedule()
        return self._info(model)

    async def reload(self, config: HoshikageConfig,
                     options: Mapping[str, Any] | None = None) -> ModelChanges:
        """Serve ``config``'s models from now on (see :mod:`.reload`); ``options`` as
        for the constructor. Models added or changed with ``preload`` load soon after."""
        changes = apply_config(self._pool, config, options or {})
        self._schedule()
        self._reaper.wake()
        for name in (*changes.added, *changes.reloaded):
            if self._pool.models[name].config.preload:
                self._pool.spawn(self._preload(self._pool.models[name]))
        return changes

    async def start(self) -> None:
        """Start the idle reaper and load the models marked ``preload``."""
        self._reaper.start()
        for model in self._pool.models.values():
            if model.config.preload:
                self._pool.spawn(self._preload(model))

    async def _preload(self, model: ManagedModel) -> None:
        try:
            await self.load(model.name)
        except HoshikageError as exc:
            log.error("preloading %s failed: %s", model.name, exc.message)

    async def settle(self) -> None:
        """Wait until no load or unload is in progress (for tests and shutdown)."""
        await self._pool.settle()

    async def close(self, timeout: float = 30.0) -> None:
        """Refuse new work, wait up to ``timeout`` for running requests, unload all."""
        pool = self._pool
        pool.closing = True
        for model in pool.models.values():
            model.fail_waiters(ShuttingDownError("The server is shutting down."))
            if model.holds_memory:
                model.unload_requested = True
        if pool.models:
            self._schedule()
        waits = [m.unloaded.wait() for m in pool.models.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except asyncio.TimeoutError:
            busy = [m.name for m in pool.models.values() if m.running]
            log.warning("still generating at shutdown, not unloaded: %s", ", ".join(busy))
        await self.settle()
        await self._reaper.stop()

    def _info(self, model: ManagedModel) -> ModelInfo:
        return model.info(self._pool.clock.monotonic(), self._pool.clock.time())
