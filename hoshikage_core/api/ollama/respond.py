"""Answering a generation as Ollama does: NDJSON lines (its default), or one object.

Errors before the first event (unknown model, bad request, a prompt too long, a
model that cannot load) are HTTP statuses; a failure mid-stream is an
``{"error": ...}`` line, and then the stream ends, as Ollama's clients expect.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ...hoshikage import Hoshikage, ModelState
from ...serving import ChatEvent
from ..deps import log_exchange
from ..disconnect import until_disconnected
from ..streaming import dumps, open_stream, stream_failure
from .errors import ollama_error
from .reply import Reply, Timing, rfc3339

__all__ = ["NDJSON", "STREAM_RESPONSES", "load_or_unload", "respond", "timing"]

NDJSON = "application/x-ndjson"

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "The answer: JSON lines (NDJSON) by default, the last one \"done\": "
                   "true; with \"stream\": false, one JSON object",
    "content": {NDJSON: {"schema": {"type": "string"}}},
}}


def timing(hoshikage: Hoshikage, name: str) -> Timing:
    """A request's clock, started now; it counts a load if the model is not ready."""
    if hoshikage.get(name).state is ModelState.READY:
        return Timing()
    return Timing(lambda: hoshikage.get(name).load_seconds)


async def respond(http_request: Request, hoshikage: Hoshikage, reply: Reply,
                  events: Callable[[], AsyncGenerator[ChatEvent, None]],
                  *, stream: bool) -> Response:
    """``events()`` folded into ``reply``: streamed as lines, or returned whole."""
    if not stream:
        async def whole() -> dict[str, Any]:
            async with aclosing(events()) as running:
                async for event in running:
                    reply.feed(event)
            return reply.whole()

        body = await until_disconnected(http_request, whole())
        log_exchange(hoshikage, "output", "".join(reply.content))
        return JSONResponse(body)

    first, rest = await until_disconnected(http_request, open_stream(events()))
    reply.timing.mark()  # the first event is here: prompt evaluation is over
    return StreamingResponse(_lines(hoshikage, reply, first, rest), media_type=NDJSON)


async def _lines(hoshikage: Hoshikage, reply: Reply, first: ChatEvent,
                 rest: AsyncGenerator[ChatEvent, None]) -> AsyncIterator[str]:
    try:
        for line in reply.feed(first):
            yield dumps(line) + "\n"
        async for event in rest:
            for line in reply.feed(event):
                yield dumps(line) + "\n"
        log_exchange(hoshikage, "output", "".join(reply.content))
    except Exception as exc:
        yield dumps(ollama_error(stream_failure(exc))) + "\n"
    finally:
        await rest.aclose()


async def load_or_unload(hoshikage: Hoshikage, name: str, asked: str, keep_alive: float | None,
                         *, chat: bool) -> dict[str, Any]:
    """A request with nothing to answer: load the model (``keep_alive`` 0: unload it),
    and say which, as Ollama does (``done_reason`` ``load`` or ``unload``)."""
    if keep_alive == 0:
        await hoshikage.unload(name)
        reason = "unload"
    else:
        await hoshikage.load(name, keep_alive=keep_alive)
        reason = "load"
    empty: dict[str, Any] = ({"message": {"role": "assistant", "content": ""}} if chat
                             else {"response": ""})
    return {"model": asked, "created_at": rfc3339(), **empty, "done": True,
            "done_reason": reason}
