"""``POST /v1/completions``: the completion service's answer in OpenAI's legacy shapes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ...serving import ChatEvent, ChoiceEnd, ChoiceStart, StreamEnd, TextDelta
from ..deps import HoshikageDep, log_exchange, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..schema_docs import ERROR_RESPONSES, STREAM_RESPONSES
from ..streaming import open_stream, sse_response
from .logprobs import completion_logprobs
from .protocol import CompletionRequest
from .usage import usage_dict

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


@router.post("/v1/completions", response_model=None, responses=STREAM_RESPONSES)
async def completions(
    body: CompletionRequest,
    http_request: Request,
    hoshikage: HoshikageDep,
) -> Response:
    log_unknown_fields(body, "completions")
    request = body.to_service()
    name = hoshikage.canonical_name(request.model)
    http_request.state.hoshikage_model = name
    log_exchange(hoshikage, "prompt", body.prompt)
    envelope = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
                "created": int(time.time()), "model": name, "system_fingerprint": None}

    if not body.stream:
        result = await until_disconnected(http_request, hoshikage.complete(request))
        log_exchange(hoshikage, "output", [c.text for c in result.choices])
        return JSONResponse({**envelope, "choices": [{
            "index": c.index, "text": c.text, "finish_reason": c.finish_reason,
            "logprobs": completion_logprobs(c.logprobs, c.logprobs_offset)
            if c.logprobs is not None else None,
        } for c in result.choices], "usage": usage_dict(result.usage)})

    first, rest = await until_disconnected(http_request,
                                           open_stream(hoshikage.stream_completion(request)))
    include_usage = body.include_usage()

    def choice(index: int, text: str, finish: str | None = None,
               logprobs: Any = None) -> dict[str, Any]:
        return {**envelope, "choices": [{"index": index, "text": text, "finish_reason": finish,
                                         "logprobs": logprobs}]}

    async def frames(events: AsyncIterator[ChatEvent]) -> AsyncIterator[dict[str, Any]]:
        offsets: dict[int, int] = {}
        texts: dict[int, str] = {}
        async for event in events:
            if isinstance(event, ChoiceStart):
                offsets[event.choice], texts[event.choice] = 0, ""
            elif isinstance(event, TextDelta):
                logprobs = (completion_logprobs(event.logprobs, offsets[event.choice])
                            if event.logprobs is not None else None)
                offsets[event.choice] += len(event.text)
                texts[event.choice] += event.text
                yield choice(event.choice, event.text, logprobs=logprobs)
            elif isinstance(event, ChoiceEnd):
                yield choice(event.choice, "", event.finish_reason,
                             completion_logprobs((), offsets[event.choice])
                             if body.logprobs is not None else None)
            elif isinstance(event, StreamEnd):
                log_exchange(hoshikage, "output", list(texts.values()))
                if include_usage:
                    yield {**envelope, "choices": [], "usage": usage_dict(event.usage)}

    return sse_response(first, rest, frames,
                        shutdown_grace=hoshikage.config.server.shutdown_timeout)
