"""Server-sent events for streamed generations (sse-starlette)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, TypeVar

from sse_starlette import EventSourceResponse

from ..errors import HoshikageError

__all__ = ["dumps", "open_stream", "sse_response"]

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKSTOP_SECONDS = 5.0  # sse-starlette's cut at shutdown, after the server's own


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


async def open_stream(events: AsyncGenerator[T, None]) -> tuple[T, AsyncGenerator[T, None]]:
    """Start a stream and wait for its first event.

    Loading errors, a prompt too long for the context and the like are raised
    here, before any byte is sent, so they reach the client as an HTTP error
    status rather than inside a 200 stream.
    """
    try:
        first = await events.__anext__()
    except StopAsyncIteration:
        await events.aclose()
        raise HoshikageError("the stream produced nothing") from None
    except BaseException:
        await events.aclose()
        raise
    return first, events


async def _with_rest(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    yield first
    async for chunk in rest:
        yield chunk


def sse_response(
    first: T,
    rest: AsyncGenerator[T, None],
    frames: Callable[[AsyncIterator[T]], AsyncIterator[dict[str, Any]]],
    *,
    shutdown_grace: float,
) -> EventSourceResponse:
    """Stream ``frames(chunks)`` as ``data:`` events, then ``data: [DONE]``.

    A failure mid-stream is sent as an OpenAI-shaped error event before
    ``[DONE]``; the stream always ends properly. On server shutdown a running
    stream may finish for up to ``shutdown_grace`` seconds: ``hoshikage run``'s
    uvicorn cuts it then (one log line). sse-starlette's own cut comes
    ``BACKSTOP_SECONDS`` later, for servers that embed the app and never cut; were
    both due at once, which one acted (and what the log says) would be a race.
    """

    async def events() -> AsyncIterator[str]:
        try:
            async for payload in frames(_with_rest(first, rest)):
                yield dumps(payload)
        except HoshikageError as exc:
            yield dumps(exc.to_dict())
        except Exception:
            log.exception("stream failed mid-way")
            yield dumps(HoshikageError("The server had an error while streaming.").to_dict())
        finally:
            await rest.aclose()
        yield "[DONE]"

    grace = shutdown_grace + BACKSTOP_SECONDS if math.isfinite(shutdown_grace) \
        else 365 * 86400.0
    return EventSourceResponse(events(), ping=15, shutdown_grace_period=grace)
