"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: the chat service in
Anthropic's shapes (what the ``anthropic`` SDK and Claude Code expect)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ...serving import ChatEvent
from ..deps import HoshikageDep, log_exchange, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..schema_docs import STREAM_RESPONSES, error_responses
from ..streaming import Waiting, drain, open_patiently, sse_response
from .errors import AnthropicErrorResponse, anthropic_error
from .message import MessageFold
from .protocol import CountTokensRequest, MessagesRequest

router = APIRouter(tags=["anthropic"], dependencies=[Depends(require_api_key)],
                   responses=error_responses(400, 401, 404, 413, 500, 503,
                                             shape=AnthropicErrorResponse))

PING = {"type": "ping"}


@router.post("/v1/messages", response_model=None, responses=STREAM_RESPONSES)
async def messages(body: MessagesRequest, http_request: Request,
                   hoshikage: HoshikageDep) -> Response:
    log_unknown_fields(body, "messages")
    request = body.to_service()
    name = hoshikage.canonical_name(request.model)
    http_request.state.hoshikage_model = name
    log_exchange(hoshikage, "prompt", [m.model_dump(exclude_none=True) for m in body.messages])
    fold = MessageFold(name, show_thinking=body.shows_thinking())

    if not body.stream:
        await until_disconnected(http_request, drain(hoshikage.stream_chat(request), fold.feed))
        log_exchange(hoshikage, "output", fold.message["content"])
        return JSONResponse(fold.message)

    server = hoshikage.config.server
    first, rest = await until_disconnected(
        http_request, open_patiently(hoshikage.stream_chat(request), server.stream_ping))

    async def frames(events: AsyncIterator[ChatEvent | Waiting]) -> AsyncIterator[dict[str, Any]]:
        yield fold.start()
        yield PING
        async for event in events:
            if isinstance(event, Waiting):
                yield PING
                continue
            for frame in fold.feed(event):
                yield frame
        log_exchange(hoshikage, "output", fold.message["content"])

    return sse_response(first, rest, frames, shutdown_grace=server.shutdown_timeout,
                        error_payload=anthropic_error, done=None, named=True)


@router.post("/v1/messages/count_tokens")
async def count_tokens(body: CountTokensRequest, http_request: Request,
                       hoshikage: HoshikageDep) -> dict[str, int]:
    """The prompt tokens a Messages request would take, through the model's template."""
    log_unknown_fields(body, "messages/count_tokens")
    request = body.to_service()
    http_request.state.hoshikage_model = hoshikage.canonical_name(request.model)
    return {"input_tokens": await until_disconnected(
        http_request, hoshikage.count_chat_tokens(request))}
