"""Per-model state: which models exist, which are loaded, who may generate.

Models load lazily on first use. Each model has ``parallel`` generation slots;
requests beyond that wait their turn. Backend calls run in the instance's
worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from .config.schema import EffectiveModelSettings, HoshikageConfig, ModelConfig
from .errors import (
    BackendUnavailableError,
    HoshikageError,
    ModelLoadError,
    ModelNotFoundError,
)
from .plugins import Backend, Plugins
from .threads import iterate_in_thread
from .types import Chunk, GenerationRequest, ModelSpec

__all__ = ["ManagedModel", "ModelInfo", "ModelManager", "ModelState"]

log = logging.getLogger(__name__)


class ModelState(str, enum.Enum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    UNLOADING = "unloading"
    FAILED = "failed"


@dataclass(frozen=True)
class ModelInfo:
    """A snapshot of one configured model, for listings."""

    id: str
    backend: str
    aliases: tuple[str, ...]
    state: ModelState
    path: str | None
    error: str | None = None
    load_seconds: float | None = None


class ManagedModel:
    """One configured model and its runtime state."""

    def __init__(
        self, name: str, config: ModelConfig, settings: EffectiveModelSettings
    ) -> None:
        self.name = name
        self.config = config
        self.settings = settings
        self.spec = ModelSpec(name=name, path=config.path, options=dict(config.options))
        self.state = ModelState.UNLOADED
        self.handle: Any = None
        self.error: str | None = None
        self.load_seconds: float | None = None
        self._load_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(settings.parallel)

    def info(self) -> ModelInfo:
        return ModelInfo(
            id=self.name,
            backend=self.config.backend,
            aliases=tuple(self.config.aliases),
            state=self.state,
            path=str(self.config.path) if self.config.path else None,
            error=self.error,
            load_seconds=self.load_seconds,
        )


def _with_model_defaults(request: GenerationRequest, model: ManagedModel) -> GenerationRequest:
    """Fill the fields the request left out from ``[models.NAME.sampling]``."""
    defaults = model.config.sampling.as_request_defaults()
    missing = {k: v for k, v in defaults.items() if getattr(request, k) is None}
    return dataclasses.replace(request, model=model.name, **missing)


class ModelManager:
    """All configured models of one :class:`~hoshikage_core.Hoshikage`."""

    def __init__(self, config: HoshikageConfig, plugins: Plugins, executor: Executor) -> None:
        self._plugins = plugins
        self._executor = executor
        self._models = {
            name: ManagedModel(name, model, config.effective(name))
            for name, model in config.models.items()
        }
        self._names: dict[str, str] = {}
        for name, model in config.models.items():
            self._names[name] = name
            for alias in model.aliases:
                self._names[alias] = name

    def names(self) -> list[str]:
        return list(self._models)

    def get(self, name_or_alias: str) -> ManagedModel:
        """The model called ``name_or_alias``; :class:`ModelNotFoundError` if none."""
        name = self._names.get(name_or_alias)
        if name is None:
            raise ModelNotFoundError(name_or_alias, available=self.names())
        return self._models[name]

    def infos(self) -> list[ModelInfo]:
        return [m.info() for m in self._models.values()]

    def _backend(self, model: ManagedModel) -> Backend:
        name = model.config.backend
        backend = self._plugins.backend(name)
        if backend is None:
            failed = self._plugins.failed(name)
            detail = f"it failed to import ({failed})" if failed else "it is not installed"
            raise BackendUnavailableError(
                f"Model '{model.name}' needs the '{name}' backend, but {detail}."
            )
        reason = backend.unavailable_reason()
        if reason:
            raise BackendUnavailableError(
                f"Model '{model.name}' cannot run: the '{name}' backend is unavailable: {reason}"
            )
        return backend

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def ensure_loaded(self, model: ManagedModel) -> Any:
        """Load ``model`` if it is not loaded; return its backend handle."""
        if model.state is ModelState.READY:
            return model.handle
        async with model._load_lock:
            if model.state is ModelState.READY:
                return model.handle
            backend = self._backend(model)
            model.state = ModelState.LOADING
            started = time.perf_counter()
            log.info("loading model %s (%s)", model.name, model.config.backend)
            try:
                handle = await self._run(backend.load, model.spec)
            except HoshikageError as exc:
                model.state, model.error = ModelState.FAILED, exc.message
                raise
            except Exception as exc:
                model.state, model.error = ModelState.FAILED, f"{type(exc).__name__}: {exc}"
                log.error("model %s failed to load: %s", model.name, model.error)
                raise ModelLoadError(
                    f"Model '{model.name}' failed to load: {model.error}"
                ) from exc
            if handle is None:
                model.state = ModelState.FAILED
                model.error = f"backend '{backend.name}' returned no handle"
                raise ModelLoadError(f"Model '{model.name}' failed to load: {model.error}")
            model.handle, model.error = handle, None
            model.load_seconds = time.perf_counter() - started
            model.state = ModelState.READY
            log.info("model %s ready in %.2fs", model.name, model.load_seconds)
            return handle

    async def generate(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Stream chunks for ``request`` from its model, loading it if needed."""
        model = self.get(request.model)
        request = _with_model_defaults(request, model)
        async with model._slots:
            handle = await self.ensure_loaded(model)
            backend = self._backend(model)
            stream = iterate_in_thread(lambda: backend.generate(handle, request), self._executor)
            sent, finished = 0, False
            try:
                async with aclosing(stream) as chunks:
                    async for chunk in chunks:
                        finished = chunk.is_final
                        sent += 1
                        yield chunk
            finally:
                if not finished:
                    log.info("%s: generation stopped early after %d chunks "
                             "(client gone or error)", model.name, sent)

    async def unload(self, name_or_alias: str) -> bool:
        """Unload a model if it is loaded (waits for its running requests)."""
        model = self.get(name_or_alias)
        async with model._load_lock:
            if model.state is not ModelState.READY:
                return False
            for _ in range(model.settings.parallel):
                await model._slots.acquire()
            try:
                model.state = ModelState.UNLOADING
                handle, model.handle = model.handle, None
                backend = self._plugins.backend(model.config.backend)
                try:
                    if backend is not None:
                        await self._run(backend.unload, handle)
                except Exception:
                    log.exception("model %s failed to unload cleanly", model.name)
                model.state = ModelState.UNLOADED
                log.info("model %s unloaded", model.name)
                return True
            finally:
                for _ in range(model.settings.parallel):
                    model._slots.release()

    async def unload_all(self) -> None:
        for name in self._models:
            await self.unload(name)
