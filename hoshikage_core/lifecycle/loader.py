"""Loading and unloading, in worker threads: progress, failures and their backoff."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config.sizes import format_bytes
from ..errors import HoshikageError, ModelLoadError
from .pool import ModelPool
from .progress import LoadEvent, LoadWatchers, progress_reporter
from .release import return_memory_to_os
from .state import ManagedModel, ModelState, UnloadReason

__all__ = ["Loader", "file_stamp", "retry_backoff"]

log = logging.getLogger(__name__)

MAX_RETRY_BACKOFF = 60.0
PROGRESS_LOG_INTERVAL = 2.0  # seconds between "loading ...: N%" log lines of one load


def _template_of(backend: Any, handle: Any) -> Any:
    """The backend's chat template, with what it can show learned now (in a worker)."""
    template = backend.chat_template(handle)
    for each in [template, *getattr(template, "variants", {}).values()]:
        if each is not None:
            each.caps  # noqa: B018 - probing renders: done here, off the event loop
    return template


def file_stamp(path: Path | None) -> tuple[int, int] | None:
    """(size, mtime) of a model file: what tells that it was replaced."""
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    return None if stat is None else (stat.st_size, stat.st_mtime_ns)


def retry_backoff(failures: int) -> float:
    """Seconds before a model that failed to load ``failures`` times is retried."""
    return min(MAX_RETRY_BACKOFF, 2.0 ** failures)


class Loader:
    """Starts loads and unloads; calls ``changed()`` when one ends."""

    def __init__(self, pool: ModelPool, watchers: LoadWatchers,
                 changed: Callable[[], None]) -> None:
        self._pool = pool
        self._watchers = watchers
        self._changed = changed

    # -- loading -----------------------------------------------------------------

    def start_load(self, model: ManagedModel) -> None:
        model.file_stamp = file_stamp(model.spec.path)
        model.state = ModelState.LOADING
        model.load_progress = None
        model.progress_logged_at = self._pool.clock.monotonic()
        model.unloaded.clear()
        self._watchers.emit(LoadEvent(model.name, ModelState.LOADING, None))
        self._pool.spawn(self._load(model))

    def _progressed(self, model: ManagedModel, fraction: float) -> None:
        """The backend reported ``fraction`` of ``model`` loaded (on the event loop)."""
        if model.state is not ModelState.LOADING:
            return
        model.load_progress = fraction
        now = self._pool.clock.monotonic()
        if now - model.progress_logged_at >= PROGRESS_LOG_INTERVAL:
            model.progress_logged_at = now
            log.info("loading model %s: %d%%", model.name, round(fraction * 100))
        self._watchers.emit(LoadEvent(model.name, ModelState.LOADING, fraction))

    async def _load(self, model: ManagedModel) -> None:
        pool = self._pool
        log.info("loading model %s (%s, about %s)", model.name, model.config.backend,
                 format_bytes(model.memory_bytes))
        started = time.perf_counter()
        progress = progress_reporter(asyncio.get_running_loop(),
                                     lambda fraction: self._progressed(model, fraction))
        try:
            backend = pool.backend(model)
            handle = await pool.in_worker(backend.load, model.spec, progress)
            if handle is None:
                raise RuntimeError(f"backend '{model.config.backend}' returned no handle")
            if model.chat_template is None and backend.supports("hoshikage_chat_template"):
                model.chat_template = await pool.in_worker(_template_of, backend, handle)
        except Exception as exc:
            pool.metrics.loads.labels(model.name, "failed").inc()
            self.fail(model, exc)
        else:
            pool.metrics.loads.labels(model.name, "ok").inc()
            pool.metrics.load_seconds.labels(model.name).observe(time.perf_counter() - started)
            model.handle, model.error, model.failures = handle, None, 0
            model.load_seconds = round(time.perf_counter() - started, 3)
            model.served_while_others_wait = 0
            model.state = ModelState.READY
            if not model.queue:
                model.mark_idle(pool.clock.monotonic())
            log.info("model %s ready in %.2fs", model.name, model.load_seconds)
            self._watchers.emit(LoadEvent(model.name, ModelState.READY, 1.0))
        finally:
            self._changed()

    def fail(self, model: ManagedModel, exc: BaseException) -> None:
        """``model`` cannot load: record why, back off, and fail everyone waiting."""
        reason = exc.message if isinstance(exc, HoshikageError) else f"{type(exc).__name__}: {exc}"
        was_loading = model.state is ModelState.LOADING
        model.state, model.error, model.handle = ModelState.FAILED, reason, None
        model.failures += 1
        model.retry_at = self._pool.clock.monotonic() + retry_backoff(model.failures)
        model.unloaded.set()
        log.error("model %s failed to load: %s", model.name, reason)
        if was_loading:
            self._watchers.emit(LoadEvent(model.name, ModelState.FAILED, None, reason))
        error = exc if isinstance(exc, HoshikageError) else ModelLoadError(
            f"Model '{model.name}' failed to load: {reason}")
        model.failure = error
        model.fail_waiters(error)

    def backing_off(self, model: ManagedModel) -> HoshikageError:
        """The error for a request to a model that failed and is not retried yet: the
        failure's own status and code (a 503 stays a 503), with a Retry-After."""
        wait = max(1, math.ceil(model.retry_at - self._pool.clock.monotonic()))
        message = f"Model '{model.name}' failed to load: {model.error} (retrying in {wait} s)"
        failure = model.failure
        error = ModelLoadError(message) if failure is None or isinstance(
            failure, ModelLoadError) else HoshikageError(
                message, status_code=failure.status_code, error_type=failure.error_type,
                code=failure.code)
        error.headers = {"Retry-After": str(wait)}
        return error

    # -- unloading ---------------------------------------------------------------

    def start_unload(self, model: ManagedModel, reason: UnloadReason, detail: str = "") -> None:
        handle, model.handle = model.handle, None
        model.state = ModelState.UNLOADING
        model.expires_at = None
        self._pool.spawn(self._unload(model, handle, reason, detail))

    async def _unload(self, model: ManagedModel, handle: Any, reason: UnloadReason,
                      detail: str) -> None:
        pool = self._pool
        log.info("unloading model %s (%s)", model.name, detail or reason.describe())
        label = UnloadReason.SHUTDOWN if pool.closing else reason
        pool.metrics.unloads.labels(model.name, label.value).inc()
        started = time.perf_counter()
        try:
            backend = pool.plugins.backend(model.config.backend)
            if backend is not None:
                await pool.in_worker(backend.unload, handle)
            del handle
            await pool.in_worker(return_memory_to_os)
        except Exception:
            log.exception("model %s failed to unload cleanly", model.name)
        finally:
            pool.metrics.unload_seconds.labels(model.name).observe(time.perf_counter() - started)
            model.state = ModelState.UNLOADED
            model.unload_requested = False
            model.served_while_others_wait = 0
            model.unloaded.set()
            self._changed()
