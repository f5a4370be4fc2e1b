"""The ctransformers backend's hook implementations (entry point ``ctransformers``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

from hoshikage_core import hookimpl
from hoshikage_core.kit.options import parse_options
from hoshikage_core.kit.templates import ChatTemplate
from hoshikage_core.types import Chunk, GenerationRequest, ModelSpec

from .model import CTransformersModel
from .options import CTransformersOptions

INSTALL_HINT = "ctransformers is not installed: pip install 'hoshikage[ctransformers]'"


@hookimpl
def hoshikage_unavailable_reason() -> str | None:
    return None if importlib.util.find_spec("ctransformers") is not None else INSTALL_HINT


@hookimpl
def hoshikage_validate_options(model: ModelSpec) -> CTransformersOptions:
    return parse_options(CTransformersOptions, model)


@hookimpl
def hoshikage_load(model: ModelSpec) -> CTransformersModel:
    return CTransformersModel(model, parse_options(CTransformersOptions, model))


@hookimpl
def hoshikage_generate(handle: CTransformersModel,
                       request: GenerationRequest) -> Iterator[Chunk]:
    return handle.generate(request)


@hookimpl
def hoshikage_chat_template(handle: CTransformersModel) -> ChatTemplate:
    return handle.chat_template


@hookimpl
def hoshikage_unload(handle: CTransformersModel) -> None:
    handle.close()


@hookimpl
def hoshikage_tokenize(handle: CTransformersModel, text: str, add_special: bool) -> list[int]:
    return handle.tokenize(text, add_special)


@hookimpl
def hoshikage_detokenize(handle: CTransformersModel, tokens: list[int]) -> str:
    return handle.detokenize(tokens)


@hookimpl
def hoshikage_supported_fields() -> frozenset[str]:
    return frozenset({"top_k", "repeat_penalty"})
