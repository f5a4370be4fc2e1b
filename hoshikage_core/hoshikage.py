"""The embeddable object: config, plugins and models of one Hoshikage."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .clock import Clock, SystemClock
from .config import HoshikageConfig, describe_validation_error, load_config, validate_config
from .errors import ConfigError
from .lifecycle import LoadListener, ModelInfo, ModelManager
from .metrics import Metrics
from .options import OptionsError
from .plugin_loading import create_plugin_manager
from .plugins import Plugins
from .security import resolve_api_keys
from .types import (
    ChatMessage,
    Chunk,
    FinishReason,
    GenerationRequest,
    ModelSpec,
    TokenLogprob,
    Usage,
)

__all__ = ["Completion", "Hoshikage"]

ConfigSource = HoshikageConfig | Mapping[str, Any] | str | os.PathLike[str]


@dataclass(frozen=True)
class Completion:
    """A finished generation: the whole text and why it ended."""

    model: str
    text: str
    finish_reason: FinishReason
    usage: Usage
    logprobs: tuple[TokenLogprob, ...] = ()


class Hoshikage:
    """Local models behind one object; usable with or without HTTP.

    ``config`` is a :class:`HoshikageConfig`, a mapping shaped like the TOML
    file, or the path of a TOML file. ``plugins`` adds plugin objects by name
    (e.g. a backend defined in your own code) next to the installed ones.

    Use it as an async context manager so models are unloaded at the end::

        async with Hoshikage("hoshikage.toml") as hk:
            result = await hk.complete("The capital of France is", model="default")
    """

    def __init__(
        self,
        config: ConfigSource,
        *,
        plugins: Mapping[str, object] | None = None,
        load_entry_points: bool = True,
        max_workers: int = 64,
        clock: Clock | None = None,
    ) -> None:
        self.config = _as_config(config)
        self.plugins: Plugins = create_plugin_manager(
            plugins, load_entry_points=load_entry_points, plugin_dir=self.config.plugins.dir,
            disable=self.config.plugins.disable)
        check_models(self.config, self.plugins)
        self._executor = ThreadPoolExecutor(max_workers=max_workers,
                                            thread_name_prefix="hoshikage")
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        self.models = ModelManager(self.config, self.plugins, self._executor, self.clock,
                                   self.metrics)
        self.metrics.watch_models(self.models.infos)
        self.api_keys = resolve_api_keys(self.config.server, os.environ)
        self._closed = False
        self._started = False
        self.started_at = int(time.time())

    async def __aenter__(self) -> Hoshikage:
        await self.start()
        return self

    async def start(self) -> None:
        """Start background work (idle unloading) and load ``preload`` models.

        Optional: the first request starts the idle timer too. Idempotent.
        """
        if not self._started:
            self._started = True
            await self.models.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unload every model and stop the worker threads."""
        if self._closed:
            return
        self._closed = True
        await self.models.close(timeout=self.config.server.shutdown_timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def list_models(self) -> list[ModelInfo]:
        """Every configured model with its current state."""
        return self.models.infos()

    def watch_loads(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener(event)`` on the event loop as model loads start, advance
        (``event.progress``, 0.0-1.0) and end. Returns a function that stops it."""
        return self.models.watch_loads(listener)

    async def generate(
        self, request: GenerationRequest, *, keep_alive: float | None = None
    ) -> AsyncGenerator[Chunk, None]:
        """Stream the chunks of one generation. Close the iterator to cancel it.

        ``keep_alive`` (seconds; ``math.inf`` = forever) is how long the model
        stays loaded after this request, instead of its ``idle_timeout``, as
        Ollama's ``keep_alive`` does; later requests without one use the
        ``idle_timeout`` again.
        """
        async with aclosing(self.models.generate(request, keep_alive=keep_alive)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def run(
        self, request: GenerationRequest, *, keep_alive: float | None = None
    ) -> Completion:
        """Run one generation to the end and return the whole result."""
        parts: list[str] = []
        logprobs: list[TokenLogprob] = []
        final: Chunk | None = None
        async with aclosing(self.generate(request, keep_alive=keep_alive)) as chunks:
            async for chunk in chunks:
                parts.append(chunk.text)
                logprobs.extend(chunk.logprobs)
                if chunk.is_final:
                    final = chunk
        if final is None or final.usage is None:
            raise RuntimeError(
                f"backend of model '{request.model}' ended without a final chunk "
                "(finish_reason and usage)"
            )
        name = self.models.get(request.model).name
        return Completion(name, "".join(parts), final.finish_reason or "stop", final.usage,
                          tuple(logprobs))

    async def complete(self, prompt: str, *, model: str = "default",
                       keep_alive: float | None = None, **sampling: Any) -> Completion:
        """Complete raw ``prompt`` text. ``sampling``: fields of GenerationRequest."""
        request = GenerationRequest(model=model, prompt=prompt, **sampling)
        return await self.run(request, keep_alive=keep_alive)

    async def chat(
        self,
        messages: Sequence[ChatMessage | Mapping[str, str]],
        *,
        model: str = "default",
        keep_alive: float | None = None,
        **sampling: Any,
    ) -> Completion:
        """Answer a chat using the model's chat template."""
        turns = [m if isinstance(m, ChatMessage) else ChatMessage(**dict(m))  # type: ignore[arg-type]
                 for m in messages]
        request = GenerationRequest(model=model, messages=turns, **sampling)
        return await self.run(request, keep_alive=keep_alive)


def _as_config(config: ConfigSource) -> HoshikageConfig:
    if isinstance(config, HoshikageConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_config(Path(config))
    return validate_config(config)


def check_models(config: HoshikageConfig, plugins: Plugins) -> None:
    """Each model names a known backend, and that backend accepts its options."""
    where = f" in {config.source}" if config.source else ""
    problems: list[str] = []
    for name, model in config.models.items():
        backend = plugins.backend(model.backend)
        if backend is None:
            if plugins.failed(model.backend):
                continue  # reported when used, with the import error; startup goes on
            known = ", ".join(plugins.backend_names()) or "none"
            problems.append(
                f"  - models.{name}.backend: no backend named '{model.backend}' is "
                f"installed (installed backends: {known})"
            )
            continue
        spec = ModelSpec(name=name, path=model.path, options=dict(model.options))
        try:
            backend.validate_options(spec)
        except OptionsError as exc:
            problems.extend(exc.problems)
        except ValidationError as exc:
            text = describe_validation_error(exc, prefix=("models", name, "options"))
            problems.extend(text.splitlines()[1:])
        except (ValueError, TypeError) as exc:
            problems.append(f"  - models.{name}.options: {exc}")
    if problems:
        raise ConfigError("\n".join([f"Invalid configuration{where}:", *problems]))
