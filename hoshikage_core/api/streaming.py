"""Streamed generations over HTTP: server-sent events (sse-starlette), in each
dialect's framing."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sse_starlette import EventSourceResponse

from ..errors import HoshikageError

__all__ = ["Waiting", "drain", "dumps", "open_patiently", "open_stream", "sse_response",
           "stream_failure"]

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKSTOP_SECONDS = 5.0  # sse-starlette's cut at shutdown, after the server's own


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Waiting:
    """No event yet after the stream's patience: the model is still loading or
    reading a long prompt. Dialects that keep clients waiting with pings send one."""


async def open_stream(events: AsyncGenerator[T, None]) -> tuple[T, AsyncGenerator[T, None]]:
    """Start a stream and wait for its first event.

    Loading errors, a prompt too long for the context and the like are raised
    here, before any byte is sent, so they reach the client as an HTTP error
    status rather than inside a 200 stream.
    """
    return await _first(events, events.__anext__()), events


async def open_patiently(
    events: AsyncGenerator[T, None], patience: float
) -> tuple[T | Waiting, AsyncGenerator[T | Waiting, None]]:
    """:func:`open_stream`, waiting at most ``patience`` seconds for the first event.

    If it has not come by then, the stream starts anyway: it yields
    :class:`Waiting` every ``patience`` seconds until the first event comes (an
    error then arrives inside the stream).
    """
    first = asyncio.ensure_future(events.__anext__())
    try:
        done, _ = await asyncio.wait([first], timeout=patience)
    except BaseException:  # cancelled (the client left): stop the generation too
        first.cancel()
        await asyncio.wait([first])
        await events.aclose()
        raise
    if not done:
        waiting = _after_waiting(first, events, patience)
        return await waiting.__anext__(), waiting  # started: closing it cleans up
    return await _first(events, first), cast(AsyncGenerator[T | Waiting, None], events)


async def _first(events: AsyncGenerator[T, None], first: Awaitable[T]) -> T:
    """The first event; if there is none, or it fails, the stream is closed."""
    try:
        return await first
    except StopAsyncIteration:
        await events.aclose()
        raise HoshikageError("the stream produced nothing") from None
    except BaseException:
        await events.aclose()
        raise


async def drain(events: AsyncGenerator[T, None], feed: Callable[[T], object]) -> None:
    """Feed every event to ``feed`` (a dialect's fold, for an answer sent whole)."""
    async with aclosing(events):
        async for event in events:
            feed(event)


async def _after_waiting(first: asyncio.Future[T], events: AsyncGenerator[T, None],
                         interval: float) -> AsyncGenerator[T | Waiting, None]:
    try:
        yield Waiting()
        while not (await asyncio.wait([first], timeout=interval))[0]:
            yield Waiting()
        try:
            yield first.result()
        except StopAsyncIteration:
            return
        async for event in events:
            yield event
    finally:
        if not first.done():
            first.cancel()
            await asyncio.wait([first])
        await events.aclose()


async def _with_rest(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    yield first
    async for chunk in rest:
        yield chunk


def stream_failure(exc: Exception) -> HoshikageError:
    """What a client is told of a failure mid-stream (details only in the log)."""
    if isinstance(exc, HoshikageError):
        return exc
    log.exception("stream failed mid-way", exc_info=exc)
    return HoshikageError("The server had an error while streaming.")


def sse_response(
    first: T,
    rest: AsyncGenerator[T, None],
    frames: Callable[[AsyncIterator[T]], AsyncIterator[dict[str, Any]]],
    *,
    shutdown_grace: float,
    error_payload: Callable[[HoshikageError], dict[str, Any]] = HoshikageError.to_dict,
    done: str | None = "[DONE]",
    named: bool = False,
) -> EventSourceResponse:
    """Stream ``frames(chunks)`` as ``data:`` events, then ``data: [DONE]``.

    Dialects other than Chat Completions set ``named`` (each event is named
    after its payload's ``type``, as Anthropic's and the Responses API's are),
    ``done`` (their last line, or None) and ``error_payload`` (their error
    event). A failure mid-stream is sent as an error event (OpenAI's shape by
    default) before the end; the stream always ends properly. On server shutdown a running
    stream may finish for up to ``shutdown_grace`` seconds: ``hoshikage run``'s
    uvicorn cuts it then (one log line). sse-starlette's own cut comes
    ``BACKSTOP_SECONDS`` later, for servers that embed the app and never cut; were
    both due at once, which one acted (and what the log says) would be a race.
    """

    def event(payload: dict[str, Any]) -> str | dict[str, str]:
        return {"event": payload["type"], "data": dumps(payload)} if named else dumps(payload)

    async def events() -> AsyncIterator[str | dict[str, str]]:
        try:
            async for payload in frames(_with_rest(first, rest)):
                yield event(payload)
        except Exception as exc:
            yield event(error_payload(stream_failure(exc)))
        finally:
            await rest.aclose()
        if done is not None:
            yield done

    grace = shutdown_grace + BACKSTOP_SECONDS if math.isfinite(shutdown_grace) \
        else 365 * 86400.0
    return EventSourceResponse(events(), ping=15, shutdown_grace_period=grace)
