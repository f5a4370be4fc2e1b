"""The model manager: who is loaded, who may generate, who waits, who goes.

All decisions happen on the event loop in :meth:`ModelManager._schedule`, a
synchronous function called whenever something changes (a request arrives or
ends, a load or unload finishes). Loads and unloads run in worker threads.

- A request takes one of its model's ``parallel`` slots, or waits in the
  model's FIFO queue. A model takes ``parallel + max_queue`` requests at once
  in every state (while it loads, the first ``parallel`` waiters hold the
  slots they will run in); beyond that 503 + Retry-After.
- A model loads when one of its requests is first in line and it fits under
  ``max_loaded_models`` and ``memory_budget``; idle models make room, least
  recently used first. Busy models are never interrupted: when another model
  waits for their room, they serve at most ``fairness_cap`` more requests,
  then drain and are unloaded.
- An idle model unloads ``idle_timeout`` after its last request ended (or that
  request's own ``keep_alive``, which governs only the expiry after it).
- A model that fails to load answers its error until a backoff has passed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor
from contextlib import aclosing
from typing import Any, TypeVar

from ..capabilities import refuse_unsupported
from ..clock import Clock
from ..config.schema import HoshikageConfig
from ..config.sizes import format_bytes
from ..errors import (
    BackendUnavailableError,
    HoshikageError,
    ModelLoadError,
    ModelNotFoundError,
    ModelTooLargeError,
    QueueFullError,
    ShuttingDownError,
)
from ..metrics import Metrics
from ..plugins import Backend, Plugins
from ..threads import iterate_in_thread
from ..types import Chunk, GenerationRequest
from .defaults import with_model_defaults
from .idle import IdleReaper
from .placement import choose_victims
from .progress import LoadEvent, LoadListener, LoadWatchers, progress_reporter
from .release import return_memory_to_os
from .state import ManagedModel, ModelInfo, ModelState, Waiter

__all__ = ["ModelManager"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_RETRY_BACKOFF = 60.0
PROGRESS_LOG_INTERVAL = 2.0  # seconds between "loading ...: N%" log lines of one load


def retry_backoff(failures: int) -> float:
    """Seconds before a model that failed to load ``failures`` times is retried."""
    return min(MAX_RETRY_BACKOFF, 2.0 ** failures)


class ModelManager:
    """All configured models of one :class:`~hoshikage_core.Hoshikage`."""

    def __init__(self, config: HoshikageConfig, plugins: Plugins, executor: Executor,
                 clock: Clock, metrics: Metrics | None = None) -> None:
        self._plugins = plugins
        self._metrics = metrics or Metrics()
        self._executor = executor
        self._clock = clock
        self._max_loaded = config.defaults.max_loaded_models
        self._budget = config.defaults.memory_budget
        self._fairness_cap = config.defaults.fairness_cap
        self._models = {name: ManagedModel(name, model, config.effective(name))
                        for name, model in config.models.items()}
        self._names = {alias: name for name, model in config.models.items()
                       for alias in (name, *model.aliases)}
        self._order = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper = IdleReaper(self._models.values(), clock,
                                  lambda model: self._start_unload(model, "idle timeout"))
        self._closing = False
        self._load_watchers = LoadWatchers()

    # -- lookup ----------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._models)

    def get(self, name_or_alias: str) -> ManagedModel:
        """The model called ``name_or_alias``; :class:`ModelNotFoundError` if none."""
        name = self._names.get(name_or_alias)
        if name is None:
            raise ModelNotFoundError(name_or_alias, available=self.names())
        return self._models[name]

    def watch_loads(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener`` on the event loop as loads start, advance and end.

        Returns a function that stops it.
        """
        return self._load_watchers.add(listener)

    def infos(self) -> list[ModelInfo]:
        now, wall = self._clock.monotonic(), self._clock.time()
        return [m.info(now, wall) for m in self._models.values()]

    # -- running requests ------------------------------------------------------

    async def generate(self, request: GenerationRequest, *,
                       keep_alive: float | None = None) -> AsyncGenerator[Chunk, None]:
        """Stream chunks for ``request``: wait for a slot, load if needed, generate."""
        model = self.get(request.model)
        request = with_model_defaults(request, model)
        refuse_unsupported(request, self._backend(model).supported_fields(), model=model.name,
                           backend=model.config.backend)
        await self._acquire(model)
        started = time.perf_counter()
        sent, finished = 0, False
        metrics, label = self._metrics, model.name
        last_text = 0.0
        try:
            backend, handle = self._backend(model), model.handle
            stream = iterate_in_thread(lambda: backend.generate(handle, request), self._executor)
            async with aclosing(stream) as chunks:
                async for chunk in chunks:
                    finished = chunk.is_final
                    sent += 1
                    if chunk.text:
                        now = time.perf_counter()
                        if last_text:
                            metrics.inter_token_latency.labels(label).observe(now - last_text)
                        else:
                            metrics.time_to_first_token.labels(label).observe(now - started)
                        last_text = now
                    if chunk.usage is not None:
                        metrics.prompt_tokens.labels(label).inc(chunk.usage.prompt_tokens)
                        metrics.generated_tokens.labels(label).inc(
                            chunk.usage.completion_tokens)
                    yield chunk
        finally:
            if not finished:
                log.info("%s: generation stopped early after %d chunks (client gone or error)",
                         model.name, sent)
            self._release(model, time.perf_counter() - started, keep_alive)

    async def use(self, name_or_alias: str, work: Callable[[Backend, Any], T], *,
                  keep_alive: float | None = None) -> T:
        """Run ``work(backend, handle)`` in a worker thread with the model loaded.

        For embeddings, tokenizing and the like: it takes a slot like a
        generation, so the model is neither unloaded nor shared mid-call.
        """
        model = self.get(name_or_alias)
        await self._acquire(model)
        started = time.perf_counter()
        backend, handle = self._backend(model), model.handle
        job = asyncio.get_running_loop().run_in_executor(self._executor, work, backend, handle)
        try:
            return await asyncio.shield(job)
        finally:
            if not job.done():  # cancelled: the thread still uses the handle; wait for it
                await asyncio.wait([job])
            self._release(model, time.perf_counter() - started, keep_alive)

    async def _acquire(self, model: ManagedModel) -> None:
        """Return once ``model`` is ready and one of its slots is ours."""
        ticket = next(self._order)  # arrival order, taken before anything awaits
        self._reaper.start()
        if self._closing:
            raise ShuttingDownError("The server is shutting down.")
        self._backend(model)
        await self._ensure_estimate(model)
        if model.state is ModelState.FAILED and self._clock.monotonic() < model.retry_at:
            raise self._backing_off(model)
        if self._can_start_now(model):
            self._grant(model)
            return
        if model.running + len(model.queue) >= model.capacity:
            waiting = model.running + len(model.queue) - model.settings.parallel
            raise QueueFullError(model.name, waiting, self._retry_after(model))
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
                self._release(model, None, None)
            self._schedule()
            raise

    def _backing_off(self, model: ManagedModel) -> HoshikageError:
        """The error for a request to a model that failed and is not retried yet: the
        failure's own status and code (a 503 stays a 503), with a Retry-After."""
        wait = max(1, math.ceil(model.retry_at - self._clock.monotonic()))
        message = f"Model '{model.name}' failed to load: {model.error} (retrying in {wait} s)"
        failure = model.failure
        error = ModelLoadError(message) if failure is None or isinstance(
            failure, ModelLoadError) else HoshikageError(
                message, status_code=failure.status_code, error_type=failure.error_type,
                code=failure.code)
        error.headers = {"Retry-After": str(wait)}
        return error

    def _release(self, model: ManagedModel, seconds: float | None,
                 keep_alive: float | None) -> None:
        """A request is done with its slot; ``keep_alive`` (its own, if it sent one)
        sets how long the model stays loaded if it was the last."""
        now = self._clock.monotonic()
        model.running -= 1
        model.last_used = now
        if seconds is not None:
            model.average_seconds = 0.8 * model.average_seconds + 0.2 * seconds
        if model.running == 0 and not model.queue:
            model.mark_idle(now, keep_alive)
        self._schedule()

    def _grant(self, model: ManagedModel) -> None:
        model.running += 1
        model.expires_at = None
        if self._someone_waits_for_room(model):
            model.served_while_others_wait += 1
        else:
            model.served_while_others_wait = 0

    def _can_start_now(self, model: ManagedModel) -> bool:
        return (model.state is ModelState.READY and not model.unload_requested
                and model.free_slots > 0 and not model.queue and not self._must_yield(model))

    def _someone_waits_for_room(self, model: ManagedModel) -> bool:
        return any(m.queue and not m.holds_memory for m in self._models.values() if m is not model)

    def _must_yield(self, model: ManagedModel) -> bool:
        return (model.served_while_others_wait >= self._fairness_cap
                and self._someone_waits_for_room(model))

    def _retry_after(self, model: ManagedModel) -> int:
        waiting = len(model.queue) + model.running
        estimate = model.average_seconds * waiting / model.settings.parallel
        return int(min(300, max(1, math.ceil(estimate))))

    # -- scheduling ------------------------------------------------------------

    def _schedule(self) -> None:
        """Grant slots, start loads and evictions. Never awaits."""
        now = self._clock.monotonic()
        blocked = False  # the first model waiting for room holds the line
        for model in sorted((m for m in self._models.values() if m.queue),
                            key=ManagedModel.oldest_waiter):
            if model.state is ModelState.READY:
                while (model.queue and model.free_slots > 0 and not model.unload_requested
                       and not self._must_yield(model)):
                    waiter = model.queue.popleft()
                    if not waiter.future.done():
                        self._grant(model)
                        waiter.future.set_result(None)
            elif model.state in (ModelState.UNLOADED, ModelState.FAILED) and not blocked:
                if model.state is ModelState.FAILED and now < model.retry_at:
                    continue
                blocked = not self._make_room_and_load(model)
        for model in self._models.values():
            if model.unload_requested and model.state is ModelState.READY and not model.running:
                self._start_unload(model, "unload requested")
        self._reaper.wake()

    def _make_room_and_load(self, model: ManagedModel) -> bool:
        """Start loading ``model`` if it fits, else evict idle models. True if loading."""
        victims = choose_victims(model, list(self._models.values()),
                                 max_loaded=self._max_loaded, budget=self._budget,
                                 evictable=self._evictable)
        if victims == []:
            self._start_load(model)
            return True
        if victims is None:
            return False  # only busy models stand in the way: wait for them, evict nothing yet
        for victim in victims:
            # A model that yields with requests still queued sends them to the back of
            # the line, so the model it yielded to goes first.
            for waiter in victim.queue:
                waiter.order = next(self._order)
            self._start_unload(victim, f"making room for {model.name}")
        return False

    def _evictable(self, model: ManagedModel) -> bool:
        return (model.state is ModelState.READY and model.running == 0
                and (not model.queue or self._must_yield(model)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_load(self, model: ManagedModel) -> None:
        model.state = ModelState.LOADING
        model.load_progress = None
        model.progress_logged_at = self._clock.monotonic()
        model.unloaded.clear()
        self._load_watchers.emit(LoadEvent(model.name, ModelState.LOADING, None))
        self._spawn(self._load(model))

    def _progressed(self, model: ManagedModel, fraction: float) -> None:
        """The backend reported ``fraction`` of ``model`` loaded (on the event loop)."""
        if model.state is not ModelState.LOADING:
            return
        model.load_progress = fraction
        now = self._clock.monotonic()
        if now - model.progress_logged_at >= PROGRESS_LOG_INTERVAL:
            model.progress_logged_at = now
            log.info("loading model %s: %d%%", model.name, round(fraction * 100))
        self._load_watchers.emit(LoadEvent(model.name, ModelState.LOADING, fraction))

    async def _load(self, model: ManagedModel) -> None:
        log.info("loading model %s (%s, about %s)", model.name, model.config.backend,
                 format_bytes(model.memory_bytes))
        started = time.perf_counter()
        progress = progress_reporter(asyncio.get_running_loop(),
                                     lambda fraction: self._progressed(model, fraction))
        try:
            handle = await self._run(self._backend(model).load, model.spec, progress)
            if handle is None:
                raise RuntimeError(f"backend '{model.config.backend}' returned no handle")
        except Exception as exc:
            self._metrics.loads.labels(model.name, "failed").inc()
            self._fail(model, exc)
        else:
            self._metrics.loads.labels(model.name, "ok").inc()
            self._metrics.load_seconds.labels(model.name).observe(time.perf_counter() - started)
            model.handle, model.error, model.failures = handle, None, 0
            model.load_seconds = round(time.perf_counter() - started, 3)
            model.served_while_others_wait = 0
            model.state = ModelState.READY
            if not model.queue:
                model.mark_idle(self._clock.monotonic())
            log.info("model %s ready in %.2fs", model.name, model.load_seconds)
            self._load_watchers.emit(LoadEvent(model.name, ModelState.READY, 1.0))
        finally:
            self._schedule()

    def _fail(self, model: ManagedModel, exc: BaseException) -> None:
        reason = exc.message if isinstance(exc, HoshikageError) else f"{type(exc).__name__}: {exc}"
        was_loading = model.state is ModelState.LOADING
        model.state, model.error, model.handle = ModelState.FAILED, reason, None
        model.failures += 1
        model.retry_at = self._clock.monotonic() + retry_backoff(model.failures)
        model.unloaded.set()
        log.error("model %s failed to load: %s", model.name, reason)
        if was_loading:
            self._load_watchers.emit(LoadEvent(model.name, ModelState.FAILED, None, reason))
        error = exc if isinstance(exc, HoshikageError) else ModelLoadError(
            f"Model '{model.name}' failed to load: {reason}")
        model.failure = error
        while model.queue:
            waiter = model.queue.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(error)

    def _start_unload(self, model: ManagedModel, why: str) -> None:
        handle, model.handle = model.handle, None
        model.state = ModelState.UNLOADING
        model.expires_at = None
        self._spawn(self._unload(model, handle, why))

    async def _unload(self, model: ManagedModel, handle: Any, why: str) -> None:
        log.info("unloading model %s (%s)", model.name, why)
        reason = ("shutdown" if self._closing else "idle" if why == "idle timeout"
                  else "evicted" if why.startswith("making room") else "requested")
        self._metrics.unloads.labels(model.name, reason).inc()
        started = time.perf_counter()
        try:
            backend = self._plugins.backend(model.config.backend)
            if backend is not None:
                await self._run(backend.unload, handle)
            del handle
            await self._run(return_memory_to_os)
        except Exception:
            log.exception("model %s failed to unload cleanly", model.name)
        finally:
            self._metrics.unload_seconds.labels(model.name).observe(time.perf_counter() - started)
            model.state = ModelState.UNLOADED
            model.unload_requested = False
            model.served_while_others_wait = 0
            model.unloaded.set()
            self._schedule()

    def reap_idle(self) -> None:
        """Unload every idle model whose idle timeout has passed (now, not on the clock)."""
        self._reaper.reap()

    # -- admin -----------------------------------------------------------------

    async def load(self, name_or_alias: str) -> ModelInfo:
        """Load a model now (through the same queue and limits as requests); it then
        stays loaded for its ``idle_timeout``."""
        model = self.get(name_or_alias)
        await self._acquire(model)
        self._release(model, None, None)
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

    async def start(self) -> None:
        """Start the idle reaper and load the models marked ``preload``."""
        self._reaper.start()
        for model in self._models.values():
            if model.config.preload:
                self._spawn(self._preload(model))

    async def _preload(self, model: ManagedModel) -> None:
        try:
            await self.load(model.name)
        except HoshikageError as exc:
            log.error("preloading %s failed: %s", model.name, exc.message)

    async def settle(self) -> None:
        """Wait until no load or unload is in progress (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, timeout: float = 30.0) -> None:
        """Refuse new work, wait up to ``timeout`` for running requests, unload all."""
        self._closing = True
        for model in self._models.values():
            while model.queue:
                waiter = model.queue.popleft()
                if not waiter.future.done():
                    waiter.future.set_exception(ShuttingDownError("The server is shutting down."))
            if model.holds_memory:
                model.unload_requested = True
        if self._models:
            self._schedule()
        waits = [m.unloaded.wait() for m in self._models.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except asyncio.TimeoutError:
            busy = [m.name for m in self._models.values() if m.running]
            log.warning("still generating at shutdown, not unloaded: %s", ", ".join(busy))
        await self.settle()
        await self._reaper.stop()

    # -- helpers ---------------------------------------------------------------

    def _info(self, model: ManagedModel) -> ModelInfo:
        return model.info(self._clock.monotonic(), self._clock.time())

    def _backend(self, model: ManagedModel) -> Backend:
        name = model.config.backend
        backend = self._plugins.backend(name)
        if backend is None:
            failed = self._plugins.failed(name)
            detail = f"it is not loaded ({failed})" if failed else "it is not installed"
            raise BackendUnavailableError(
                f"Model '{model.name}' needs the '{name}' backend, but {detail}.")
        reason = backend.unavailable_reason()
        if reason:
            raise BackendUnavailableError(
                f"Model '{model.name}' cannot run: the '{name}' backend is unavailable: {reason}")
        return backend

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _ensure_estimate(self, model: ManagedModel) -> None:
        """Know the model's footprint before it loads; refuse one that never fits."""
        if model.memory_bytes is None:
            if model.estimating is None:  # one estimate per model, shared by its requests
                backend = self._backend(model)
                model.estimating = asyncio.ensure_future(
                    self._run(backend.estimate_memory, model.spec))
            estimating = model.estimating
            try:
                estimate = await asyncio.shield(estimating)
            except Exception as exc:
                error = ModelLoadError(
                    f"Model '{model.name}' cannot be loaded: {type(exc).__name__}: {exc}")
                if model.estimating is estimating:  # the first to see it records it
                    model.estimating = None
                    self._fail(model, error)
                raise error from exc
            if model.memory_bytes is None:
                if estimate is None:
                    path = model.spec.path
                    estimate = path.stat().st_size if path is not None and path.exists() else 0
                model.memory_bytes = int(estimate)
        if self._budget is not None and model.memory_bytes > self._budget:
            raise ModelTooLargeError(
                f"Model '{model.name}' needs about {format_bytes(model.memory_bytes)}, more than "
                f"the whole memory_budget of {format_bytes(self._budget)}. Raise "
                "[defaults] memory_budget, or lower the model's n_ctx or use a smaller file.")

