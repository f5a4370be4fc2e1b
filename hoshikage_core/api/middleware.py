"""ASGI middleware: request ids, access log and metrics; request body limit.

Pure ASGI (no BaseHTTPMiddleware), so streamed responses pass through
untouched and are counted when they end.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..errors import HoshikageError
from ..ops.metrics import Metrics
from ..ops.request_ids import REQUEST_ID

__all__ = ["BodySizeLimit", "RequestContext"]

log = logging.getLogger("hoshikage.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContext:
    """Gives each request an id (the client's ``X-Request-Id`` if sane), returns it as
    a header, logs one access line and counts the request in the metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _ACCEPTABLE_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            state = scope.get("state") or {}
            model = str(state.get("hoshikage_model", ""))
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(model, endpoint, str(status)).inc()
            log.info("%s %s %s %.0fms%s", scope["method"], scope["path"], status,
                     (time.perf_counter() - started) * 1000,
                     f" model={model}" if model else "",
                     extra={"method": scope["method"], "path": scope["path"],
                            "status": status, "model": model or None,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
            REQUEST_ID.reset(token)


class BodySizeLimit:
    """Refuses request bodies larger than ``limit`` bytes with a 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _error(self, size: str) -> HoshikageError:
        return HoshikageError(
            f"The request body is {size}; this server accepts at most {self.limit} bytes "
            "([server] max_body_size).", status_code=413, error_type="invalid_request_error",
            code="request_too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, f"{int(declared)} bytes")
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send, f"more than {self.limit} bytes")

    async def _refuse(self, send: Send, size: str) -> None:
        body = json.dumps(self._error(size).to_dict()).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(BaseException):
    """Raised from ``receive`` mid-body; a BaseException so that FastAPI's body
    parsing (which turns exceptions into a 400) lets it through to us."""
