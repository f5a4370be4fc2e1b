"""``POST /api/embed`` and the older ``POST /api/embeddings``."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from ...hoshikage import Hoshikage, ModelState
from ..deps import HoshikageDep, log_unknown_fields
from ..disconnect import until_disconnected
from .names import resolve
from .protocol import EmbedBody, EmbeddingsBody
from .routing import ollama_router

router = ollama_router()


def shortened(vector: Sequence[float], dimensions: int | None) -> list[float]:
    """The first ``dimensions`` values, normalised to length 1 again, as Ollama
    shortens embeddings (the whole vector when it has no more)."""
    if not dimensions or dimensions >= len(vector):
        return list(vector)
    head = list(vector[:dimensions])
    norm = math.sqrt(sum(v * v for v in head))
    return [v / norm for v in head] if norm else head


async def _embed(hoshikage: Hoshikage, name: str, inputs: list[str],
                 keep_alive: float | None) -> tuple[list[list[float]], int]:
    hoshikage.capabilities(name).require("hoshikage_embed", model=name, what="make embeddings")
    if not inputs:  # nothing to embed: Ollama loads the model and answers no vectors
        await hoshikage.load(name)
        return [], 0
    result = await hoshikage.embed(name, inputs, keep_alive=keep_alive)
    return [list(v) for v in result.vectors], result.prompt_tokens


@router.post("/api/embed")
async def embed(body: EmbedBody, http_request: Request, hoshikage: HoshikageDep) -> dict[str, Any]:
    """Embedding vectors for ``input`` (a text or a list of texts)."""
    log_unknown_fields(body, "api/embed")
    name = resolve(hoshikage, body.model)
    http_request.state.hoshikage_model = name
    started, ready = time.monotonic_ns(), hoshikage.get(name).state is ModelState.READY
    vectors, tokens = await until_disconnected(
        http_request, _embed(hoshikage, name, body.inputs(), body.keep_alive))
    total = time.monotonic_ns() - started
    load = 0 if ready else min(total, int((hoshikage.get(name).load_seconds or 0) * 1e9))
    return {"model": body.model, "embeddings": [shortened(v, body.dimensions) for v in vectors],
            "total_duration": total, "load_duration": load, "prompt_eval_count": tokens}


@router.post("/api/embeddings")
async def embeddings(body: EmbeddingsBody, http_request: Request,
                     hoshikage: HoshikageDep) -> dict[str, Any]:
    """One embedding for ``prompt`` (an empty prompt: an empty vector)."""
    log_unknown_fields(body, "api/embeddings")
    name = resolve(hoshikage, body.model)
    http_request.state.hoshikage_model = name
    vectors, _ = await until_disconnected(http_request, _embed(
        hoshikage, name, [body.prompt] if body.prompt else [], body.keep_alive))
    return {"embedding": vectors[0] if vectors else []}
