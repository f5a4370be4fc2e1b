"""What the OpenAPI schema says about responses: the error shape and its statuses.

FastAPI documents a 422 for every request body; Hoshikage never sends one (it
answers 400 in OpenAI's shape), so that entry is replaced.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from .deps import require_api_key

__all__ = ["ERROR_RESPONSES", "STREAM_RESPONSES", "ErrorResponse", "error_responses",
           "install_openapi"]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape, used for every error Hoshikage returns."""

    error: ErrorDetail


_ERRORS: dict[int, str] = {
    400: "Invalid request (the message and param say what)",
    401: "Missing or wrong API key",
    404: "Unknown model or URL",
    413: "Request body too large",
    500: "The model failed to load, or another server error",
    503: "Queue full (see Retry-After), backend unavailable, or shutting down",
}


def error_responses(*statuses: int,
                    shape: type[BaseModel] = ErrorResponse) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries for the error statuses a route can answer, in
    its dialect's error ``shape`` (OpenAI's unless said)."""
    return {status: {"model": shape, "description": _ERRORS[status]} for status in statuses}


ERROR_RESPONSES = error_responses(400, 401, 404, 413, 500, 503)
"""What a route that generates (chat, completions, embeddings, tokens) can answer."""

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "The answer; with \"stream\": true, server-sent events ending with "
                   "data: [DONE]",
    "content": {"text/event-stream": {"schema": {  # one event (as OpenAPI 3.2's itemSchema)
        "type": "object", "required": ["data"],
        "properties": {"data": {"type": "string", "description": "a JSON object, or [DONE]"},
                       "event": {"type": "string"}, "id": {"type": "string"},
                       "retry": {"type": "integer"}}}}},
}}


def install_openapi(app: FastAPI) -> None:
    """Serve the schema (without FastAPI's 422 responses) and its /docs and /redoc
    pages behind the API key, like every route but ``/health`` and the page at ``/``.

    The app must be created with ``openapi_url=None, docs_url=None, redoc_url=None``.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = schema.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    protected = [Depends(require_api_key)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=protected)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=protected)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} API")

    @app.get("/redoc", include_in_schema=False, dependencies=protected)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} API")
