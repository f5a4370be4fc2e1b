"""``POST /v1/embeddings``: vectors as floats or base64 (what the openai SDK asks for)."""

from __future__ import annotations

import base64
import struct
from typing import Any

from fastapi import APIRouter, Depends, Request

from ...errors import InvalidRequestError
from ..deps import HoshikageDep, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..schema_docs import ERROR_RESPONSES
from .protocol import EmbeddingRequest

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":  # little-endian float32, as OpenAI sends them
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


@router.post("/v1/embeddings")
async def embeddings(body: EmbeddingRequest, http_request: Request,
                     hoshikage: HoshikageDep) -> dict[str, Any]:
    log_unknown_fields(body, "embeddings")
    name = hoshikage.canonical_name(body.model)
    http_request.state.hoshikage_model = name
    inputs = body.inputs()
    result = await until_disconnected(
        http_request, hoshikage.embed(name, inputs, keep_alive=body.keep_alive))
    size = len(result.vectors[0]) if result.vectors else 0
    if body.dimensions is not None and body.dimensions != size:
        raise InvalidRequestError(
            f"Model '{name}' makes {size}-dimensional embeddings; it cannot shorten "
            f"them to {body.dimensions}.", param="dimensions")
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i,
                  "embedding": _encode(list(v), body.encoding_format)}
                 for i, v in enumerate(result.vectors)],
        "model": name,
        "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
    }
