"""Hook implementations of the ``upstream`` backend (entry point ``upstream``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from hoshikage_core import hookimpl
from hoshikage_core.kit.fields import ALL_FIELDS
from hoshikage_core.kit.options import parse_options
from hoshikage_core.types import Chunk, Embeddings, GenerationRequest, ModelSpec, Relevance

from . import __version__
from .options import UpstreamOptions
from .upstream import Upstream

__all__ = ["__version__"]


@hookimpl
def hoshikage_validate_options(model: ModelSpec) -> UpstreamOptions:
    return parse_options(UpstreamOptions, model)


@hookimpl
def hoshikage_estimate_memory(model: ModelSpec) -> int:
    return 0  # the model lives on other machines


@hookimpl
def hoshikage_load(model: ModelSpec) -> Upstream:
    upstream = Upstream(model, parse_options(UpstreamOptions, model))
    upstream.check()
    return upstream


@hookimpl
def hoshikage_generate(handle: Upstream, request: GenerationRequest) -> AsyncIterator[Chunk]:
    return handle.generate(request)


@hookimpl
def hoshikage_unload(handle: Upstream) -> None:
    handle.close()


@hookimpl
def hoshikage_embed(handle: Upstream, inputs: Sequence[str | Sequence[int]]) -> Embeddings:
    return handle.embed(inputs)


@hookimpl
def hoshikage_rerank(handle: Upstream, query: str, documents: Sequence[str]) -> Relevance:
    return handle.rerank(query, documents)


@hookimpl
def hoshikage_supported_fields() -> frozenset[str]:
    return ALL_FIELDS  # passed on; the upstream refuses what it lacks, with its own 400
