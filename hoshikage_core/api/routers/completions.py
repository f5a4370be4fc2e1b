"""``POST /v1/completions`` (raw prompt, no chat template), streamed or not."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ...errors import InvalidRequestError
from ...types import Chunk, GenerationRequest
from ..deps import HoshikageDep, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..protocol import CompletionRequest
from ..streaming import open_stream, sse_response
from .usage import usage_dict

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)])


def _to_generation(body: CompletionRequest, model_name: str) -> GenerationRequest:
    if body.n != 1:
        raise InvalidRequestError("Only n = 1 is supported for now.", param="n")
    if body.suffix:
        raise InvalidRequestError("'suffix' is not supported by this model.", param="suffix")
    return GenerationRequest(
        model=model_name, prompt=body.prompt_text(), max_tokens=body.max_tokens,
        **body.sampling(),
    )


@router.post("/v1/completions", response_model=None)
async def completions(
    body: CompletionRequest,
    http_request: Request,
    hoshikage: HoshikageDep,
) -> Response:
    log_unknown_fields(body, "completions")
    model = hoshikage.models.get(body.model)
    request = _to_generation(body, model.name)
    completion_id = f"cmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    echoed = request.prompt if body.echo else ""

    def choice(text: str, finish_reason: str | None) -> dict[str, Any]:
        return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}

    def envelope(choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "text_completion",
            "created": created,
            "model": model.name,
            "system_fingerprint": None,
            "choices": choices,
        }

    if not body.stream:
        result = await until_disconnected(
            http_request, hoshikage.run(request, keep_alive=body.keep_alive))
        payload = envelope([choice(f"{echoed}{result.text}", result.finish_reason)])
        payload["usage"] = usage_dict(result.usage)
        return JSONResponse(payload)

    first, rest = await until_disconnected(
        http_request, open_stream(hoshikage, request, keep_alive=body.keep_alive))
    include_usage = body.include_usage()

    async def frames(chunks: AsyncIterator[Chunk]) -> AsyncIterator[dict[str, Any]]:
        if echoed:
            yield envelope([choice(echoed or "", None)])
        async for chunk in chunks:
            if chunk.text or chunk.is_final:
                yield envelope([choice(chunk.text, chunk.finish_reason)])
            if chunk.is_final and include_usage and chunk.usage is not None:
                final = envelope([])
                final["usage"] = usage_dict(chunk.usage)
                yield final

    return sse_response(first, rest, frames,
                        shutdown_grace=hoshikage.config.server.shutdown_timeout)
