"""The embeddable object: config, plugins and models of one Hoshikage."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .assembly import check_models, make_engine
from .clock import Clock, SystemClock
from .config import HoshikageConfig, load_config, validate_config
from .config.schema import EffectiveModelSettings
from .engines import EngineContext, ModelEngine
from .errors import ConfigError, InvalidRequestError
from .lifecycle import LoadEvent, LoadListener, ModelInfo, ModelState
from .ops.metrics import Metrics
from .ops.reload import ReloadReport, needs_restart
from .ops.security import resolve_api_keys
from .ops.watch import ConfigWatcher
from .plugins.capabilities import Capabilities
from .plugins.discovery import create_plugin_manager
from .plugins.dispatch import BackendDispatcher
from .plugins.registry import PluginRegistry
from .serving import (
    ChatEvent,
    ChatRequest,
    ChatResult,
    ChatService,
    CompletionService,
    Sampling,
    TextRequest,
    TextResult,
    ToolChoice,
    ToolSpec,
)
from .types import (
    ChatMessage,
    Chunk,
    Embeddings,
    FinishReason,
    GenerationRequest,
    Relevance,
    TokenLogprob,
    Usage,
)

if TYPE_CHECKING:
    from .kit.templates import ChatTemplate

T = TypeVar("T")

__all__ = ["Completion", "Hoshikage", "LoadEvent", "LoadListener", "ModelInfo", "ModelState",
           "ReloadReport"]

ConfigSource = HoshikageConfig | Mapping[str, Any] | str | os.PathLike[str]

log = logging.getLogger(__name__)


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
        self._reload_from: Mapping[str, Any] | None = config if isinstance(
            config, Mapping) else None  # a config given as a mapping: reloaded from it
        self.plugins: PluginRegistry = create_plugin_manager(
            plugins, load_entry_points=load_entry_points, plugin_dir=self.config.plugins.dir,
            disable=self.config.plugins.disable)
        options = check_models(self.config, self.plugins)
        for backend in {m.backend for m in self.config.models.values()}:
            self.plugins.capabilities(backend)  # asked once, now, not per request
        self._executor = ThreadPoolExecutor(max_workers=max_workers,
                                            thread_name_prefix="hoshikage")
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        self.models: ModelEngine = make_engine(EngineContext(
            self.config, self.plugins, self._executor, self.clock, self.metrics, options))
        self._chat = ChatService(self)
        self._completions = CompletionService(self)
        self.metrics.watch_models(self.models.infos)
        self.api_keys = resolve_api_keys(self.config.server, os.environ)
        self._closed = False
        self._started = False
        self._reloading = asyncio.Lock()
        self._watcher = ConfigWatcher(self, self.clock)
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
            for line in self.config.discovery_report.lines():
                log.warning("discovery: %s", line)
            await self.models.start()
            if self.config.reload.watch:
                self._watcher.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unload every model and stop the worker threads."""
        if self._closed:
            return
        self._closed = True
        await self._watcher.stop()
        await self.models.close(timeout=self.config.server.shutdown_timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- models -------------------------------------------------------------------

    def list_models(self, *, include_removed: bool = False) -> list[ModelInfo]:
        """Every configured model with its current state (and, with ``include_removed``,
        those a reload removed that are still finishing their requests)."""
        return [i for i in self.models.infos() if include_removed or not i.removed]

    def get(self, model: str) -> ModelInfo:
        """One model by name or alias (:class:`ModelNotFoundError` if none)."""
        return self.models.info(model)

    def canonical_name(self, model: str) -> str:
        """The configured name of the model called ``model`` (a name or an alias)."""
        return self.models.get(model).name

    def settings(self, model: str) -> EffectiveModelSettings:
        """The model's effective limits and defaults (``parallel``, ``max_n``, ...)."""
        return self.models.get(model).settings

    def capabilities(self, model: str) -> Capabilities:
        """What the model's backend can do (503 if it cannot run here)."""
        return self.models.capabilities(model)

    async def load(self, model: str, *, keep_alive: float | None = None) -> ModelInfo:
        """Load now, through the same queue and limits as requests; the model then stays
        loaded for ``keep_alive`` seconds (Ollama's preload), else its idle_timeout."""
        return await self.models.load(model, keep_alive=keep_alive)

    async def unload(self, model: str) -> ModelInfo:
        """Unload once the model's running requests have finished."""
        return await self.models.unload(model)

    def pin(self, model: str, pinned: bool = True) -> ModelInfo:
        """Pin a model (never unloaded by its idle timer or to make room for another;
        it still counts in the limits) or, with ``pinned=False``, unpin it."""
        return self.models.pin(model, pinned)

    async def reload(self, config: ConfigSource | None = None) -> ReloadReport:
        """Read the config file again (or take ``config``) and serve its models without
        a restart: unchanged models keep running, changed ones reload once their running
        requests finish, removed ones finish theirs and unload, new ones are served at
        once; discovery folders are scanned again. An invalid config raises
        :class:`ConfigError` (file, key, what was expected) and changes nothing.
        ``[server]``, ``[plugins]`` and ``[cluster]`` changes wait for a restart."""
        async with self._reloading:
            if config is None:
                config = self.config.source or self._reload_from
                if config is None:
                    raise ConfigError("This Hoshikage was not started from a config file; "
                                      "pass the new config to reload().")
            new = await self.in_worker(_as_config, config)  # reads files, scans folders
            for table, values in self.config.overrides.items():  # hoshikage run --port
                new.override(table, **values)
            options = check_models(new, self.plugins)
            for backend in {m.backend for m in new.models.values()}:
                self.plugins.capabilities(backend)  # once per backend, as at startup
            restart = needs_restart(self.config, new)
            new = new.model_copy(update={s: getattr(self.config, s) for s in restart})
            changes = await self.models.reload(new, options)
            self.config = new
            if self._started and new.reload.watch:
                self._watcher.start()
            elif not new.reload.watch:
                await self._watcher.stop()
            return ReloadReport(changes, restart, new.discovery_report)

    def watch_loads(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener(event)`` on the event loop as model loads start, advance
        (``event.progress``, 0.0-1.0) and end. Returns a function that stops it."""
        return self.models.watch_loads(listener)

    # -- generation -------------------------------------------------------------

    async def generate(
        self, request: GenerationRequest, *, keep_alive: float | None = None
    ) -> AsyncGenerator[Chunk, None]:
        """Stream the chunks of one raw generation. Close the iterator to cancel it.

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
        """Run one raw generation to the end and return the whole result."""
        name = self.models.get(request.model).name  # before a reload may remove it
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
        return Completion(name, "".join(parts), final.finish_reason or "stop", final.usage,
                          tuple(logprobs))

    async def chat_template(self, model: str) -> ChatTemplate | None:
        """The model's chat template when Hoshikage renders its chats (its backend
        implements ``hoshikage_chat_template``), else None; may load the model."""
        template: ChatTemplate | None = await self.models.chat_template(model)
        return template

    async def render_chat(self, request: ChatRequest) -> str:
        """The prompt text a chat renders to (what ``/apply-template`` shows)."""
        return await self._chat.render(request)

    async def count_chat_tokens(self, request: ChatRequest) -> int:
        """How many prompt tokens a chat takes (its rendered template, tokenized as a
        generation tokenizes it); 400 for models whose backend renders chats."""
        prompt = await self._chat.render(request)
        return len(await self.tokenize(request.model, prompt, add_special=False))

    async def in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of this Hoshikage's worker threads."""
        result: T = await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        return result

    def stream_chat(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """A chat's events as they come (see :mod:`hoshikage_core.serving`)."""
        return self._chat.stream(request)

    async def chat(
        self,
        messages: ChatRequest | Sequence[ChatMessage | Mapping[str, Any]],
        *,
        model: str = "default",
        keep_alive: float | None = None,
        tools: Sequence[ToolSpec] = (),
        tool_choice: ToolChoice | None = None,
        **sampling: Any,
    ) -> ChatResult:
        """Answer a chat with the model's chat template: a :class:`ChatRequest`, or
        messages plus ``Sampling`` fields (``max_tokens``, ``temperature``, ...)."""
        if isinstance(messages, ChatRequest):
            return await self._chat.answer(messages)
        turns = [m if isinstance(m, ChatMessage) else ChatMessage(**dict(m))
                 for m in messages]
        return await self._chat.answer(ChatRequest(
            model=model, messages=turns, tools=tuple(tools), tool_choice=tool_choice,
            sampling=Sampling(**sampling), keep_alive=keep_alive))

    def stream_completion(self, request: TextRequest) -> AsyncGenerator[ChatEvent, None]:
        """A text completion's events as they come."""
        return self._completions.stream(request)

    async def complete(self, prompt: TextRequest | str, *, model: str = "default",
                       keep_alive: float | None = None, suffix: str | None = None,
                       logprobs: int | None = None, **sampling: Any) -> TextResult:
        """Complete raw ``prompt`` text: a :class:`TextRequest`, or the text plus
        ``Sampling`` fields."""
        if isinstance(prompt, TextRequest):
            return await self._completions.answer(prompt)
        return await self._completions.answer(TextRequest(
            model=model, prompts=[prompt], suffix=suffix, logprobs=logprobs,
            sampling=Sampling(**sampling), keep_alive=keep_alive))

    # -- other work on a loaded model ---------------------------------------------

    async def embed(self, model: str, inputs: Sequence[str | Sequence[int]], *,
                    keep_alive: float | None = None) -> Embeddings:
        """Embedding vectors for ``inputs`` (400 if the backend cannot make them)."""
        name = self.canonical_name(model)
        self.capabilities(name).require("hoshikage_embed", model=name,
                                        what="make embeddings")
        return await self.models.use(name, lambda backend, handle: backend.embed(
            handle, list(inputs)), keep_alive=keep_alive)

    async def rerank(self, model: str, query: str, documents: Sequence[str], *,
                     keep_alive: float | None = None) -> Relevance:
        """How relevant each document is to ``query`` (400 if the model cannot rank)."""
        name = self.canonical_name(model)
        self.capabilities(name).require("hoshikage_rerank", model=name,
                                        what="rank documents")
        return await self.models.use(name, lambda backend, handle: backend.rerank(
            handle, query, list(documents)), keep_alive=keep_alive)

    async def tokenize(self, model: str, text: str, *, add_special: bool = True) -> list[int]:
        """The model's token ids for ``text``."""
        name = self.canonical_name(model)
        self.capabilities(name).require("hoshikage_tokenize", model=name, what="tokenize")
        return await self.models.use(name, lambda backend, handle: list(backend.tokenize(
            handle, text, add_special)))

    async def detokenize(self, model: str, tokens: Sequence[int]) -> str:
        """The text of ``tokens`` (400 for ids the model does not have)."""
        return "".join(await self._detokenize(model, [list(tokens)]))

    async def token_pieces(self, model: str, tokens: Sequence[int]) -> list[str]:
        """The text of each token on its own."""
        return await self._detokenize(model, [[t] for t in tokens])

    async def _detokenize(self, model: str, groups: list[list[int]]) -> list[str]:
        name = self.canonical_name(model)
        self.capabilities(name).require("hoshikage_detokenize", model=name,
                                        what="detokenize")

        def work(backend: BackendDispatcher, handle: Any) -> list[str]:
            try:
                return [backend.detokenize(handle, group) for group in groups]
            except ValueError as exc:  # the hook's way of saying the ids are bad
                raise InvalidRequestError(str(exc), param="tokens") from exc

        return await self.models.use(name, work)


def _as_config(config: ConfigSource) -> HoshikageConfig:
    if isinstance(config, HoshikageConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_config(Path(config))
    return validate_config(config)
