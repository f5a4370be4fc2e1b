"""What every part of the lifecycle shares: the models, the clock, the worker
threads, the plugins, and the background tasks loads and unloads run in."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from ..clock import Clock
from ..config.schema import HoshikageConfig
from ..errors import BackendUnavailableError, ModelNotFoundError
from ..ops.metrics import Metrics
from ..plugins.capabilities import Capabilities
from ..plugins.dispatch import BackendDispatcher
from ..plugins.registry import PluginRegistry
from ..types import ModelSpec
from .state import ManagedModel

__all__ = ["ModelPool", "model_specs"]


def model_specs(config: HoshikageConfig, options: Mapping[str, Any]) -> dict[str, ModelSpec]:
    """Per model, what its backend's hooks receive: ``options`` (the backend's own
    reading of the options table) where given, a draft model's spec inside its target's."""
    specs = {name: ModelSpec(name=name, path=model.path,
                             options=options.get(name, dict(model.options)),
                             parallel=config.effective(name).parallel)
             for name, model in config.models.items()}
    for name, spec in specs.items():
        draft = config.draft_of(name)
        if draft is not None:  # its weights load with this model, as part of it
            specs[name] = dataclasses.replace(spec, draft=dataclasses.replace(
                specs[draft], parallel=spec.parallel))
    return specs


class ModelPool:
    """All configured models of one Hoshikage and the means to work on them."""

    def __init__(self, config: HoshikageConfig, plugins: PluginRegistry, executor: Executor,
                 clock: Clock, metrics: Metrics,
                 options: Mapping[str, Any] | None = None) -> None:
        self.plugins = plugins
        self.executor = executor
        self.clock = clock
        self.metrics = metrics
        specs = model_specs(config, options or {})
        self.models = {name: ManagedModel(name, model, config.effective(name), specs[name],
                                          config.origin(name))
                       for name, model in config.models.items()}
        self.set_limits(config)
        self._order = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False

    def set_limits(self, config: HoshikageConfig) -> None:
        """Take ``[defaults]``' pool-wide limits and the names of ``config``."""
        self.max_loaded = config.defaults.max_loaded_models
        self.budget = config.defaults.memory_budget
        self.fairness_cap = config.defaults.fairness_cap
        self._names = config.names()

    def get(self, name_or_alias: str) -> ManagedModel:
        """The model called ``name_or_alias``; :class:`ModelNotFoundError` if none."""
        name = self._names.get(name_or_alias)
        if name is None:
            raise ModelNotFoundError(name_or_alias, available=self.served_names())
        return self.models[name]

    def served_names(self) -> list[str]:
        """The models new requests may name (not those a reload removed)."""
        return [name for name, model in self.models.items() if not model.removed]

    def ticket(self) -> int:
        """The next number in arrival order (fairness between models)."""
        return next(self._order)

    def capabilities(self, model: ManagedModel) -> Capabilities:
        """What ``model``'s backend can do; 503 if it is missing or cannot run here."""
        name = model.config.backend
        capabilities = self.plugins.capabilities(name)
        if capabilities is None:
            failed = self.plugins.failed(name)
            detail = f"it is not loaded ({failed})" if failed else "it is not installed"
            raise BackendUnavailableError(
                f"Model '{model.name}' needs the '{name}' backend, but {detail}.")
        if capabilities.unavailable:
            raise BackendUnavailableError(
                f"Model '{model.name}' cannot run: the '{name}' backend is unavailable: "
                f"{capabilities.unavailable}")
        return capabilities

    def backend(self, model: ManagedModel) -> BackendDispatcher:
        """The dispatcher of ``model``'s backend (503 as :meth:`capabilities` says)."""
        self.capabilities(model)
        backend = self.plugins.backend(model.config.backend)
        assert backend is not None
        return backend

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background; :meth:`settle` waits for it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait until no background load or unload is in progress."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker thread (backend calls block)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
