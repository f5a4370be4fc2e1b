"""The llamacpp backend's hook implementations (entry point ``llamacpp``)."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Sequence

from hoshikage_core import hookimpl
from hoshikage_core.kit.fields import ALL_FIELDS
from hoshikage_core.kit.options import parse_options
from hoshikage_core.kit.templates import ChatTemplate
from hoshikage_core.types import (
    Chunk,
    Embeddings,
    GenerationRequest,
    LoadProgress,
    ModelSpec,
    Relevance,
)

from .memory import estimate_memory
from .model import LlamaCppModel
from .options import LlamaCppOptions

INSTALL_HINT = "llama-cpp-python is not installed: pip install 'hoshikage[llamacpp]'"


@hookimpl
def hoshikage_unavailable_reason() -> str | None:
    return None if importlib.util.find_spec("llama_cpp") is not None else INSTALL_HINT


@hookimpl
def hoshikage_validate_options(model: ModelSpec) -> LlamaCppOptions:
    return parse_options(LlamaCppOptions, model)


@hookimpl
def hoshikage_estimate_memory(model: ModelSpec) -> int | None:
    if model.path is None:
        return None
    options = parse_options(LlamaCppOptions, model)
    total = estimate_memory(model.path, options, model.parallel).total
    draft = model.draft
    if draft is not None and draft.path is not None and options.speculation != "off":
        draft_options = parse_options(LlamaCppOptions, draft).model_copy(
            update={"n_ctx": options.n_ctx, "prompt_cache": 0})
        total += estimate_memory(draft.path, draft_options, model.parallel).total
    return total


@hookimpl
def hoshikage_load(model: ModelSpec, progress: LoadProgress) -> LlamaCppModel:
    return LlamaCppModel(model, parse_options(LlamaCppOptions, model), progress)


@hookimpl
def hoshikage_generate(handle: LlamaCppModel,
                       request: GenerationRequest) -> AsyncIterator[Chunk]:
    # Called in a worker thread: the prompt is built there; the chunks then flow
    # straight from the decode engine to the event loop.
    return handle.generate(request)


@hookimpl
def hoshikage_chat_template(handle: LlamaCppModel) -> ChatTemplate:
    return handle.chat_template


@hookimpl
def hoshikage_unload(handle: LlamaCppModel) -> None:
    handle.close()


@hookimpl
def hoshikage_embed(handle: LlamaCppModel, inputs: Sequence[str | Sequence[int]]) -> Embeddings:
    return handle.embed(inputs)


@hookimpl
def hoshikage_rerank(handle: LlamaCppModel, query: str, documents: Sequence[str]) -> Relevance:
    return handle.rerank(query, documents)


@hookimpl
def hoshikage_tokenize(handle: LlamaCppModel, text: str, add_special: bool) -> list[int]:
    return handle.tokenize(text, add_special=add_special)


@hookimpl
def hoshikage_detokenize(handle: LlamaCppModel, tokens: Sequence[int]) -> str:
    return handle.detokenize(tokens)


@hookimpl
def hoshikage_supported_fields() -> frozenset[str]:
    return ALL_FIELDS
