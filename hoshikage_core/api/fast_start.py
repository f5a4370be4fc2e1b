"""Answer ``/health`` as soon as the socket is open; build the full app meanwhile.

Importing FastAPI and building the routes takes most of a second on a small
machine. ``hoshikage run`` serves this ASGI wrapper instead: it answers
``GET /health`` at once, builds the real app in a worker thread, and hands
every other request to it once it is ready (they wait, they are not refused).
Nothing here imports FastAPI, llama.cpp or a model.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .. import __version__
from ..hoshikage import Hoshikage, ModelState
from ..ops.watch import reload_on_hangup

__all__ = ["FastStartApp", "health_body"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def health_body(hoshikage: Hoshikage) -> dict[str, Any]:
    """``GET /health``: alive, and how many models are configured and loaded."""
    infos = hoshikage.list_models()
    return {
        "status": "ok",
        "version": __version__,
        "models": {
            "configured": len(infos),
            "loaded": sum(1 for i in infos if i.state is ModelState.READY),
        },
    }


class FastStartApp:
    """Serves ``build()``'s app, answering ``/health`` before it exists.

    It starts ``hoshikage`` with the server and closes it (every model
    unloaded) when the server shuts down.
    """

    def __init__(self, build: Callable[[], ASGIApp], hoshikage: Hoshikage) -> None:
        self._build = build
        self._hoshikage = hoshikage
        self._app: ASGIApp | None = None
        self._ready: asyncio.Event | None = None
        self._failure: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self._app is None:
            if scope["type"] == "http" and scope["path"] == "/health":
                await self._health(send)
                return
            assert self._ready is not None
            await self._ready.wait()
            if self._app is None:
                raise RuntimeError("the API could not be built") from self._failure
        await self._app(scope, receive, send)

    async def _health(self, send: Send) -> None:
        body = json.dumps(health_body(self._hoshikage)).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        await receive()  # lifespan.startup
        builder = loop.run_in_executor(None, self._build)
        builder.add_done_callback(self._built)
        await self._hoshikage.start()
        stop_hangups = reload_on_hangup(self._hoshikage)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        stop_hangups()
        await asyncio.gather(builder, return_exceptions=True)
        await self._hoshikage.aclose()
        await send({"type": "lifespan.shutdown.complete"})

    def _built(self, future: asyncio.Future[ASGIApp]) -> None:
        if future.exception() is not None:
            self._failure = future.exception()
            log.error("building the API failed: %s", self._failure)
        else:
            self._app = future.result()
        assert self._ready is not None
        self._ready.set()
