"""``POST /api/chat``: the chat service's answer in Ollama's shapes."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ..deps import HoshikageDep, log_exchange, log_unknown_fields
from ..disconnect import until_disconnected
from .names import resolve
from .protocol import ChatBody
from .reply import Reply
from .respond import STREAM_RESPONSES, load_or_unload, respond, timing
from .routing import ollama_router

router = ollama_router()


@router.post("/api/chat", response_model=None, responses=STREAM_RESPONSES)
async def chat(body: ChatBody, http_request: Request, hoshikage: HoshikageDep) -> Response:
    """A chat turn, streamed as NDJSON unless ``"stream": false``. No messages: load the
    model (``keep_alive`` 0: unload it)."""
    log_unknown_fields(body, "api/chat")
    name = resolve(hoshikage, body.model)
    http_request.state.hoshikage_model = name
    if not body.messages:
        return JSONResponse(await until_disconnected(http_request, load_or_unload(
            hoshikage, name, body.model, body.keep_alive, chat=True)))
    request = body.to_service(name)
    log_exchange(hoshikage, "prompt", [m.model_dump(exclude_none=True) for m in body.messages])
    reply = Reply(body.model, timing(hoshikage, name), chat=True)
    return await respond(http_request, hoshikage, reply, lambda: hoshikage.stream_chat(request),
                         stream=body.streams())
