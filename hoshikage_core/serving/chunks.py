"""Reading one generation's chunks: its first (where errors surface), the rest, its usage."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..errors import BackendError, HoshikageError
from ..types import Chunk, Usage

__all__ = ["chained", "final_usage", "first_chunk"]


async def first_chunk(chunks: AsyncIterator[Chunk], model: str) -> Chunk:
    """The first chunk of a generation: where loading and request errors surface."""
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        raise HoshikageError(f"backend of model '{model}' produced nothing") from None


async def chained(first: Chunk, rest: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """``first``, then the rest of the generation."""
    yield first
    async for chunk in rest:
        yield chunk


def final_usage(chunk: Chunk, model: str) -> Usage:
    """The usage the final chunk must carry (a backend that sends none is broken)."""
    if chunk.usage is None:
        raise BackendError(f"backend of model '{model}' ended without usage")
    return chunk.usage
