"""``POST /v1/chat/completions``: the chat service's answer in OpenAI's shapes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ...serving import (
    ChatChoice,
    ChatEvent,
    ChoiceEnd,
    ChoiceStart,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCallArguments,
    ToolCallStart,
)
from ..deps import HoshikageDep, log_exchange, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..schema_docs import ERROR_RESPONSES, STREAM_RESPONSES
from ..streaming import open_stream, sse_response
from .logprobs import chat_logprobs
from .protocol import ChatCompletionRequest
from .usage import usage_dict

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


def _message(choice: ChatChoice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": None}
    if choice.reasoning is not None:  # vLLM's and llama-server's name, and Ollama's
        message["reasoning_content"] = message["reasoning"] = choice.reasoning
    if choice.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}}
                                 for c in choice.tool_calls]
    return message


@router.post("/v1/chat/completions", response_model=None, responses=STREAM_RESPONSES)
async def chat_completions(
    body: ChatCompletionRequest,
    http_request: Request,
    hoshikage: HoshikageDep,
) -> Response:
    log_unknown_fields(body, "chat/completions")
    request = body.to_service()
    name = hoshikage.canonical_name(request.model)
    http_request.state.hoshikage_model = name
    log_exchange(hoshikage, "prompt", [m.model_dump(exclude_none=True) for m in body.messages])
    envelope = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()),
                "model": name, "system_fingerprint": None}

    if not body.stream:
        result = await until_disconnected(http_request, hoshikage.chat(request))
        log_exchange(hoshikage, "output", [c.content for c in result.choices])
        return JSONResponse({**envelope, "object": "chat.completion", "choices": [{
            "index": c.index, "message": _message(c), "finish_reason": c.finish_reason,
            "logprobs": chat_logprobs(c.logprobs) if c.logprobs is not None else None,
        } for c in result.choices], "usage": usage_dict(result.usage)})

    first, rest = await until_disconnected(http_request,
                                           open_stream(hoshikage.stream_chat(request)))
    include_usage = body.include_usage()
    want_logprobs = body.logprobs

    def frame(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        payload = {**envelope, "object": "chat.completion.chunk", "choices": choices}
        if include_usage:
            payload["usage"] = usage
        return payload

    def delta(index: int, content: dict[str, Any], finish: str | None = None,
              logprobs: Any = None) -> dict[str, Any]:
        return frame([{"index": index, "delta": content, "finish_reason": finish,
                       "logprobs": logprobs}])

    async def frames(events: AsyncIterator[ChatEvent]) -> AsyncIterator[dict[str, Any]]:
        texts: dict[int, str] = {}
        async for event in events:
            if isinstance(event, ChoiceStart):
                texts[event.choice] = ""
                yield delta(event.choice, {"role": "assistant", "content": ""},
                            logprobs=[] if want_logprobs else None)
            elif isinstance(event, ReasoningDelta):
                yield delta(event.choice, {"reasoning_content": event.text,
                                           "reasoning": event.text})
            elif isinstance(event, TextDelta):
                texts[event.choice] += event.text
                yield delta(event.choice, {"content": event.text}, logprobs=chat_logprobs(
                    event.logprobs) if event.logprobs is not None else None)
            elif isinstance(event, ToolCallStart):
                yield delta(event.choice, {"tool_calls": [{
                    "index": event.index, "id": event.id, "type": "function",
                    "function": {"name": event.name, "arguments": ""}}]})
            elif isinstance(event, ToolCallArguments):
                yield delta(event.choice, {"tool_calls": [{
                    "index": event.index, "function": {"arguments": event.arguments}}]})
            elif isinstance(event, ChoiceEnd):
                yield delta(event.choice, {}, event.finish_reason)
            elif isinstance(event, StreamEnd):
                log_exchange(hoshikage, "output", list(texts.values()))
                if include_usage:
                    yield frame([], usage_dict(event.usage))

    return sse_response(first, rest, frames,
                        shutdown_grace=hoshikage.config.server.shutdown_timeout)
