"""``POST /v1/chat/completions``, streamed or not."""

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
from ..protocol import ChatCompletionRequest
from ..streaming import open_stream, sse_response
from .usage import usage_dict

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)])


def _to_generation(body: ChatCompletionRequest, model_name: str) -> GenerationRequest:
    if body.n != 1:
        raise InvalidRequestError("Only n = 1 is supported for now.", param="n")
    return GenerationRequest(
        model=model_name,
        messages=[m.to_internal(i) for i, m in enumerate(body.messages)],
        max_tokens=body.token_limit(),
        **body.sampling(),
    )


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest,
    http_request: Request,
    hoshikage: HoshikageDep,
) -> Response:
    log_unknown_fields(body, "chat/completions")
    model = hoshikage.models.get(body.model)
    request = _to_generation(body, model.name)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    if not body.stream:
        result = await until_disconnected(
            http_request, hoshikage.run(request, keep_alive=body.keep_alive))
        return JSONResponse({
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model.name,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": result.text},
                "logprobs": None,
                "finish_reason": result.finish_reason,
            }],
            "usage": usage_dict(result.usage),
            "system_fingerprint": None,
        })

    first, rest = await until_disconnected(
        http_request, open_stream(hoshikage, request, keep_alive=body.keep_alive))
    include_usage = body.include_usage()

    def frame(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model.name,
            "system_fingerprint": None,
            "choices": choices,
        }
        if include_usage:
            payload["usage"] = usage
        return payload

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    async def frames(chunks: AsyncIterator[Chunk]) -> AsyncIterator[dict[str, Any]]:
        yield frame([choice({"role": "assistant", "content": ""})])
        async for chunk in chunks:
            if chunk.text:
                yield frame([choice({"content": chunk.text})])
            if chunk.is_final:
                yield frame([choice({}, chunk.finish_reason)])
                if include_usage and chunk.usage is not None:
                    yield frame([], usage_dict(chunk.usage))

    return sse_response(first, rest, frames,
                        shutdown_grace=hoshikage.config.server.shutdown_timeout)
