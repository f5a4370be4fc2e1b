"""Drive a llama.cpp model's streams the way the server does: on an event loop."""

from __future__ import annotations

import asyncio

from hoshikage_backends.llamacpp.model import LlamaCppModel
from hoshikage_core import Chunk, GenerationRequest


async def consume(model: LlamaCppModel, request: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in model.generate(request)]


def collect(model: LlamaCppModel, request: GenerationRequest) -> list[Chunk]:
    """Every chunk of one generation, consumed on a fresh event loop."""
    return asyncio.run(consume(model, request))
