"""``POST /api/generate``: one prompt, through the model's chat template as Ollama
renders it, or as raw text (``raw``, or with a ``suffix``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ...serving import ChatEvent
from ..deps import HoshikageDep, log_exchange, log_unknown_fields
from ..disconnect import until_disconnected
from .names import resolve
from .protocol import GenerateBody
from .reply import Reply
from .respond import STREAM_RESPONSES, load_or_unload, respond, timing
from .routing import ollama_router

router = ollama_router()


@router.post("/api/generate", response_model=None, responses=STREAM_RESPONSES)
async def generate(body: GenerateBody, http_request: Request,
                   hoshikage: HoshikageDep) -> Response:
    """A completion, streamed as NDJSON unless ``"stream": false``. An empty prompt:
    load the model (``keep_alive`` 0: unload it)."""
    log_unknown_fields(body, "api/generate")
    name = resolve(hoshikage, body.model)
    http_request.state.hoshikage_model = name
    body.check()
    if not body.prompt:
        return JSONResponse(await until_disconnected(http_request, load_or_unload(
            hoshikage, name, body.model, body.keep_alive, chat=False)))
    log_exchange(hoshikage, "prompt", body.prompt)
    events: Callable[[], AsyncGenerator[ChatEvent, None]]
    if body.plain():
        text = body.to_text(name)
        events = lambda: hoshikage.stream_completion(text)  # noqa: E731
    else:
        chat = body.to_chat(name)
        events = lambda: hoshikage.stream_chat(chat)  # noqa: E731
    reply = Reply(body.model, timing(hoshikage, name), chat=False)
    return await respond(http_request, hoshikage, reply, events, stream=body.streams())
