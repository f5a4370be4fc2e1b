"""The engine seam: what runs a Hoshikage's models.

The built-in engine is this process's :class:`~hoshikage_core.lifecycle.ModelManager`.
A plugin offers another through :func:`~hoshikage_core.hookspecs.hoshikage_engine`
(``[cluster] engine = "NAME"``, where NAME is the plugin's entry-point name): an object
with the methods of :class:`ModelEngine`, built from an :class:`EngineContext`.
``hoshikage-ray`` is one: each model's replicas on Ray Serve, each replica running a
local Hoshikage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .clock import Clock
from .config.schema import EffectiveModelSettings, HoshikageConfig, ModelConfig
from .lifecycle import LoadListener, ModelInfo
from .lifecycle.reload import ModelChanges
from .ops.metrics import Metrics
from .plugins.capabilities import Capabilities
from .plugins.dispatch import BackendDispatcher
from .plugins.registry import PluginRegistry
from .types import Chunk, GenerationRequest

__all__ = ["EngineContext", "ModelEngine", "ModelRecord"]

T = TypeVar("T")


@dataclass(frozen=True)
class EngineContext:
    """What an engine is built from: the validated config and the server's parts."""

    config: HoshikageConfig
    plugins: PluginRegistry
    executor: Executor
    clock: Clock
    metrics: Metrics
    options: Mapping[str, Any] = field(default_factory=dict)
    """Per model, what its backend's ``hoshikage_validate_options`` made of its options."""


class ModelRecord(Protocol):
    """One model as an engine knows it."""

    name: str
    config: ModelConfig
    settings: EffectiveModelSettings


class ModelEngine(Protocol):
    """Runs the configured models: lookups, generations, loads and unloads."""

    def get(self, name_or_alias: str) -> ModelRecord:
        """The model called ``name_or_alias``; ``ModelNotFoundError`` if none."""

    def capabilities(self, name_or_alias: str) -> Capabilities: ...

    def infos(self) -> list[ModelInfo]:
        """Every model's status now (never waits: called by /metrics and the page)."""

    def info(self, name_or_alias: str) -> ModelInfo: ...

    def generate(self, request: GenerationRequest, *,
                 keep_alive: float | None = None) -> AsyncGenerator[Chunk, None]:
        """Stream one generation; closing the iterator cancels it."""

    async def use(self, name_or_alias: str, work: Callable[[BackendDispatcher, Any], T], *,
                  keep_alive: float | None = None) -> T:
        """``work(backend, handle)`` where the model is loaded (embeddings, tokens)."""

    async def chat_template(self, name_or_alias: str) -> Any: ...

    async def load(self, name_or_alias: str, *,
                   keep_alive: float | None = None) -> ModelInfo: ...

    async def unload(self, name_or_alias: str) -> ModelInfo: ...

    def pin(self, name_or_alias: str, pinned: bool = True) -> ModelInfo:
        """Keep the model loaded whatever the idle timer and other models need."""

    async def reload(self, config: HoshikageConfig,
                     options: Mapping[str, Any] | None = None) -> ModelChanges:
        """Serve ``config``'s models from now on; nothing running is cut."""

    def watch_loads(self, listener: LoadListener) -> Callable[[], None]: ...

    async def start(self) -> None: ...

    async def settle(self) -> None: ...

    async def close(self, timeout: float = 30.0) -> None: ...
