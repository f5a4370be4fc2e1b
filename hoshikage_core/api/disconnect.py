"""Stop work when the HTTP client goes away.

Starlette does not cancel a handler whose client disconnects, so a request
queued for a busy model, or a long non-streamed generation, would run on for
nobody. :func:`until_disconnected` races the work against the ASGI
``http.disconnect`` message and cancels the work if the client leaves first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

__all__ = ["ClientDisconnected", "until_disconnected"]

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed the connection before we answered."""


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; cancel it and raise :class:`ClientDisconnected` if the client leaves."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        if not watcher.done():
            watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise ClientDisconnected()
