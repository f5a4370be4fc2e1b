"""``POST /v1/chat/completions``: n choices, streamed or not, with structured
output (``response_format``), function calling (``tools``) and logprobs."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ...errors import InvalidRequestError
from ...hoshikage import Completion
from ...types import Chunk, GenerationRequest, TokenLogprob, Usage
from ..deps import HoshikageDep, log_exchange, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..logprobs_format import chat_logprobs
from ..protocol import ChatCompletionRequest
from ..schema_docs import ERROR_RESPONSES, STREAM_RESPONSES
from ..streaming import open_stream, sse_response
from ..structured import output_schema
from ..tools import ToolPlan, might_be_a_call, plan_tools
from .usage import usage_dict

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


def _generations(body: ChatCompletionRequest, model: str, plan: ToolPlan
                 ) -> list[GenerationRequest]:
    schema = output_schema(body.response_format)
    if plan.mode == "forced":
        if schema is not None:
            raise InvalidRequestError("response_format cannot be combined with a required "
                                      "tool call", param="response_format")
        schema = plan.json_schema
    messages = plan.messages([m.to_internal(i) for i, m in enumerate(body.messages)])
    base = GenerationRequest(
        model=model,
        messages=messages,
        max_tokens=body.token_limit(),
        logprobs=(body.top_logprobs or 0) if body.logprobs else None,
        json_schema=schema,
        tools=[t.model_dump() for t in plan.tools] or None,
        **body.sampling(),
    )
    # n choices; with a seed, choice i uses seed + i: different, and reproducible
    return [dataclasses.replace(base, seed=base.seed + i if base.seed is not None else None)
            for i in range(body.n)]


def _message(text: str, finish_reason: str, plan: ToolPlan) -> tuple[dict[str, Any], str]:
    calls = plan.parse(text) if finish_reason == "stop" else []
    if calls:
        return ({"role": "assistant", "content": None, "refusal": None,
                 "tool_calls": [c.to_dict() for c in calls]}, "tool_calls")
    return {"role": "assistant", "content": text, "refusal": None}, finish_reason


def _total(usages: list[Usage]) -> dict[str, Any]:
    prompt = usages[0].prompt_tokens if usages else 0  # the same prompt for every choice
    cached = usages[0].cached_tokens if usages else 0
    completion = sum(u.completion_tokens for u in usages)
    return usage_dict(Usage(prompt, completion, cached))


@router.post("/v1/chat/completions", response_model=None, responses=STREAM_RESPONSES)
async def chat_completions(
    body: ChatCompletionRequest,
    http_request: Request,
    hoshikage: HoshikageDep,
) -> Response:
    log_unknown_fields(body, "chat/completions")
    model = hoshikage.models.get(body.model)
    http_request.state.hoshikage_model = model.name
    if body.n > model.settings.max_n:
        raise InvalidRequestError(f"n is {body.n}; model '{model.name}' allows at most "
                                  f"{model.settings.max_n} (its max_n).", param="n")
    plan = plan_tools(body)
    requests = _generations(body, model.name, plan)
    log_exchange(hoshikage, "prompt", [m.model_dump(exclude_none=True) for m in body.messages])
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    envelope = {"id": completion_id, "created": created, "model": model.name,
                "system_fingerprint": None}

    if not body.stream:
        results: list[Completion] = []
        for request in requests:
            results.append(await until_disconnected(
                http_request, hoshikage.run(request, keep_alive=body.keep_alive)))
        choices = []
        log_exchange(hoshikage, "output", [r.text for r in results])
        for index, result in enumerate(results):
            message, finish = _message(result.text, result.finish_reason, plan)
            choices.append({
                "index": index, "message": message, "finish_reason": finish,
                "logprobs": chat_logprobs(result.logprobs) if body.logprobs else None,
            })
        return JSONResponse({**envelope, "object": "chat.completion", "choices": choices,
                             "usage": _total([r.usage for r in results])})

    first, rest = await until_disconnected(
        http_request, open_stream(hoshikage, requests[0], keep_alive=body.keep_alive))
    include_usage = body.include_usage()

    def frame(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        payload = {**envelope, "object": "chat.completion.chunk", "choices": choices}
        if include_usage:
            payload["usage"] = usage
        return payload

    async def frames(chunks: AsyncIterator[Chunk]) -> AsyncIterator[dict[str, Any]]:
        usages: list[Usage] = []
        texts = [""] * len(requests)
        for index, request in enumerate(requests):
            source = chunks if index == 0 else hoshikage.generate(request,
                                                                  keep_alive=body.keep_alive)
            async with aclosing(_choice_deltas(source, plan, body.logprobs)) as deltas:
                async for delta, finish, logprobs, usage in deltas:
                    choice = {"index": index, "delta": delta, "finish_reason": finish,
                              "logprobs": chat_logprobs(logprobs) if logprobs is not None
                              else None}
                    yield frame([choice])
                    texts[index] += delta.get("content") or ""
                    if usage is not None:
                        usages.append(usage)
        log_exchange(hoshikage, "output", texts)
        if include_usage:
            yield frame([], _total(usages))

    return sse_response(first, rest, frames,
                        shutdown_grace=hoshikage.config.server.shutdown_timeout)


Delta = tuple[dict[str, Any], str | None, Any, Usage | None]


async def _choice_deltas(chunks: AsyncIterator[Chunk], plan: ToolPlan,
                         want_logprobs: bool) -> AsyncGenerator[Delta, None]:
    """One choice's deltas: role, content (or tool calls), finish. Text that may be
    a tool call is held back until the answer shows what it is."""
    async with aclosing(chunks):  # type: ignore[type-var]
        async for item in _deltas(chunks, plan, want_logprobs):
            yield item


async def _deltas(chunks: AsyncIterator[Chunk], plan: ToolPlan,
                  want_logprobs: bool) -> AsyncIterator[Delta]:
    yield {"role": "assistant", "content": ""}, None, [] if want_logprobs else None, None
    held, held_logprobs = "", list[TokenLogprob]()
    holding = plan.mode != "none"
    async for chunk in chunks:
        if holding:
            held += chunk.text
            held_logprobs.extend(chunk.logprobs)
            if plan.mode == "auto" and held.strip() and not might_be_a_call(held):
                holding = False
                yield ({"content": held}, None, held_logprobs if want_logprobs else None, None)
                held, held_logprobs = "", list[TokenLogprob]()
        elif chunk.text:
            yield ({"content": chunk.text}, None,
                   list(chunk.logprobs) if want_logprobs else None, None)
        if chunk.is_final:
            finish: str = chunk.finish_reason or "stop"
            if holding:
                message, finish = _message(held, finish, plan)
                if message.get("tool_calls"):
                    for i, call in enumerate(message["tool_calls"]):
                        function = call["function"]
                        yield ({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                                "function": {"name": function["name"],
                                                             "arguments": ""}}]},
                               None, None, None)
                        yield ({"tool_calls": [{"index": i, "function": {
                                   "arguments": function["arguments"]}}]}, None, None, None)
                elif held:
                    yield ({"content": held}, None, held_logprobs if want_logprobs else None,
                           None)
            yield {}, finish, None, chunk.usage
