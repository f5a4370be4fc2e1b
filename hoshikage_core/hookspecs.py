"""The backend contract.

A backend is a pluggy plugin registered under the ``hoshikage`` entry-point
group; the entry point's name is the backend's name (``backend = "NAME"`` in a
model's config). Hoshikage calls a model's hooks on that one plugin only, so
every hook here is ``firstresult``.

Required: :func:`hoshikage_load`, :func:`hoshikage_generate`,
:func:`hoshikage_unload`. The rest are optional capabilities.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .markers import hookspec
from .types import Chunk, Embeddings, GenerationRequest, LoadProgress, ModelSpec, Relevance

if TYPE_CHECKING:
    from .engines import EngineContext, ModelEngine

__all__ = [
    "hoshikage_chat_template",
    "hoshikage_detokenize",
    "hoshikage_embed",
    "hoshikage_engine",
    "hoshikage_estimate_memory",
    "hoshikage_generate",
    "hoshikage_load",
    "hoshikage_rerank",
    "hoshikage_supported_fields",
    "hoshikage_tokenize",
    "hoshikage_unavailable_reason",
    "hoshikage_unload",
    "hoshikage_validate_options",
]

REQUIRED_BACKEND_HOOKS = ("hoshikage_load", "hoshikage_generate", "hoshikage_unload")


@hookspec(firstresult=True)
def hoshikage_load(model: ModelSpec, progress: LoadProgress) -> Any:  # type: ignore[empty-body]
    """Load ``model`` and return a handle: whatever the backend needs later.

    Runs in a worker thread; may block. Raise an exception if the model cannot
    be loaded; its message is shown to the user. If the backend can tell how
    far a long load has come, it calls ``progress(fraction)`` (0.0 to 1.0) as
    it goes; an implementation that cannot simply leaves the argument out of
    its signature (pluggy passes only the arguments a hook asks for).
    """


@hookspec(firstresult=True)
def hoshikage_generate(  # type: ignore[empty-body]
    handle: Any, request: GenerationRequest
) -> Iterator[Chunk] | AsyncIterator[Chunk]:
    """Generate for ``request`` with a loaded ``handle``.

    Return (or be) an iterator of :class:`~hoshikage_core.types.Chunk`. A sync
    iterator is consumed in a worker thread; an async iterator on the event
    loop. The last chunk must carry ``finish_reason`` and ``usage``. When the
    client goes away the iterator is closed (``GeneratorExit``): stop work then.
    Raise :class:`~hoshikage_core.errors.HoshikageError` subclasses for errors
    the client caused (e.g. ``ContextLengthExceededError``).
    """


@hookspec(firstresult=True)
def hoshikage_unload(handle: Any) -> None:
    """Free everything ``handle`` holds. Runs in a worker thread."""


@hookspec(firstresult=True)
def hoshikage_embed(handle: Any, inputs: Sequence[str | Sequence[int]]) -> Embeddings:  # type: ignore[empty-body]
    """Optional: embedding vectors for ``inputs`` (texts or token lists), in order.

    Runs in a worker thread with the model loaded. Without this hook the model
    answers ``/v1/embeddings`` with a 400 saying it cannot embed. Raise
    ``ContextLengthExceededError`` for an input too long for the model.
    """


@hookspec(firstresult=True)
def hoshikage_rerank(handle: Any, query: str, documents: Sequence[str]) -> Relevance:  # type: ignore[empty-body]
    """Optional: how relevant each of ``documents`` is to ``query`` (a reranker).

    Runs in a worker thread with the model loaded. Without this hook the model
    answers ``/v1/rerank`` with a 400 saying it cannot rank; a backend whose hook
    serves only some of its models (llama.cpp: those with rank pooling) raises
    ``InvalidRequestError`` for the others.
    """


@hookspec(firstresult=True)
def hoshikage_chat_template(handle: Any) -> Any:
    """Optional: the loaded model's chat template, a ``kit.templates.ChatTemplate``.

    With it, Hoshikage renders chats itself (tools in the model's own format,
    reasoning, ``chat_template_kwargs``, ``/apply-template``) and sends the
    prompt as ``GenerationRequest.chat_prompt``; without it, the backend gets
    ``messages`` and renders them itself. Called once per load.
    """


@hookspec(firstresult=True)
def hoshikage_tokenize(handle: Any, text: str, add_special: bool) -> list[int]:  # type: ignore[empty-body]
    """Optional: the model's token ids for ``text`` (``/tokenize``)."""


@hookspec(firstresult=True)
def hoshikage_detokenize(handle: Any, tokens: Sequence[int]) -> str:  # type: ignore[empty-body]
    """Optional: the text of ``tokens`` (``/detokenize``). Raise ``ValueError`` for bad ids."""


@hookspec(firstresult=True)
def hoshikage_supported_fields() -> Iterable[str]:  # type: ignore[empty-body]
    """Optional: the ``GenerationRequest`` fields this backend honours beyond the basics.

    The basics (``messages``, ``prompt``, ``max_tokens``, ``stop``,
    ``temperature``, ``top_p``, ``seed``) are assumed. Requests that set any
    other field get a 400 naming it before they reach the backend. For
    example ``{"top_k", "logprobs", "json_schema"}``.
    """


@hookspec(firstresult=True)
def hoshikage_validate_options(model: ModelSpec) -> Any:
    """Optional: check ``model.options`` at startup, before anything loads.

    Raise ``ValueError`` (or a pydantic ``ValidationError``) naming the bad
    option; Hoshikage reports it with the config file and key. Return nothing,
    or the options normalised (e.g. your ``BackendOptions``): then that value is
    ``model.options`` in every later hook, so the table is parsed once. Must be
    cheap: do not import heavy libraries.
    """


@hookspec(firstresult=True)
def hoshikage_estimate_memory(model: ModelSpec) -> int | None:
    """Optional: the bytes ``model`` will occupy once loaded, estimated before loading.

    Used for ``memory_budget``. Runs in a worker thread; should read headers,
    not load weights. Return ``None`` to let Hoshikage use the file's size.
    Raise if the file is clearly unusable (the model then fails with your
    message, without a load attempt).
    """


@hookspec(firstresult=True)
def hoshikage_unavailable_reason() -> str | None:
    """Optional: say why this backend cannot run here, or ``None`` if it can.

    For example ``"llama-cpp-python is not installed: pip install
    'hoshikage[llamacpp]'"``. Models on an unavailable backend answer 503 with
    this text; the rest of the server works.
    """


@hookspec(firstresult=True)
def hoshikage_engine(context: EngineContext) -> ModelEngine:  # type: ignore[empty-body]
    """Optional, for engine plugins rather than backends: build what runs the models
    when the config says ``[cluster] engine = "NAME"`` (NAME: this plugin's entry-point
    name); called on that plugin only, once, as the Hoshikage is made.

    Return an object with :class:`~hoshikage_core.engines.ModelEngine`'s methods. Raise
    ``ConfigError`` for settings the engine cannot honour (shown as a startup error).
    """
