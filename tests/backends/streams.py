"""Drive a llama.cpp model's streams as the server does; compare greedy outputs."""

from __future__ import annotations

import asyncio

from hoshikage_backends.llamacpp.model import LlamaCppModel
from hoshikage_core import Chunk, GenerationRequest


async def consume(model: LlamaCppModel, request: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in model.generate(request)]


def collect(model: LlamaCppModel, request: GenerationRequest) -> list[Chunk]:
    """Every chunk of one generation, consumed on a fresh event loop."""
    return asyncio.run(consume(model, request))


def assert_same_greedy(got: list[Chunk], reference: list[Chunk]) -> None:
    """Token for token the same (both asked with ``logprobs=4``), except where the
    reference had a near tie: a row's logits round a little differently when the row
    is in a batch of another shape (a few hundredths of a logprob here, growing over
    the tokens after), so a token of the reference's top four within 0.3 of the most
    likely one may take its place. That is the only allowed difference; after it the
    texts part."""
    ours = [t for c in got for t in c.logprobs]
    theirs = [t for c in reference for t in c.logprobs]
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a.token != b.token:
            close = {t.token for t in b.top if b.top[0].logprob - t.logprob < 0.3}
            assert a.token in close, (i, a, b)
            return
    assert len(ours) == len(theirs)
