"""The routers of the Ollama dialect: auth, Ollama's error entries, and bodies read as
JSON whatever their ``Content-Type`` says (Ollama's own examples post with
``curl -d '{...}'``, which says ``application/x-www-form-urlencoded``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute

from ..deps import require_api_key
from .errors import OLLAMA_ERRORS

__all__ = ["JSONBodyRoute", "ollama_router"]


class JSONBodyRoute(APIRoute):
    """A route that reads a request body as JSON unless it says it is JSON already."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def as_json(request: Request) -> Response:
            if "json" not in request.headers.get("content-type", ""):
                scope = dict(request.scope)
                scope["headers"] = [*(h for h in request.scope["headers"]
                                      if h[0] != b"content-type"),
                                    (b"content-type", b"application/json")]
                request = Request(scope, request.receive)
            return await handler(request)

        return as_json


def ollama_router() -> APIRouter:
    """A router for ``/api/*`` routes."""
    return APIRouter(tags=["ollama"], dependencies=[Depends(require_api_key)],
                     responses=OLLAMA_ERRORS, route_class=JSONBodyRoute)
