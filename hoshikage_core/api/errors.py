"""Every failure over HTTP, in the shape of the dialect that was asked.

OpenAI's ``{"error": {"message", "type", "param", "code"}}`` unless a dialect
registered its own shape for its paths (:func:`install_error_handlers`): our
own errors keep their status; FastAPI's 422 becomes a 400 naming the field;
unknown routes and methods keep their status; anything unexpected is a 500
without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import HoshikageError
from .disconnect import ClientDisconnected

__all__ = ["ErrorShape", "error_body", "install_error_handlers", "validation_error_to_openai"]

ErrorShape = Callable[[HoshikageError], dict[str, Any]]
"""A dialect's error body for an error (its status stays the error's)."""

log = logging.getLogger(__name__)

_HTTP_CODES = {
    401: ("authentication_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
}


def error_body(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _param_of(loc: tuple[Any, ...]) -> str | None:
    parts = [p for p in loc if p not in ("body", "query", "path")]
    out = ""
    for part in parts:
        # pydantic adds the union member it tried ("str", "list[...]"): skip those
        if isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool")):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _json_problem(error: Any) -> str:
    context = error.get("ctx")
    return str(context.get("error") if isinstance(context, dict) else error.get("msg"))


def validation_error_to_openai(exc: RequestValidationError) -> HoshikageError:
    """The first problem of a request validation error, as a 400."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return HoshikageError(
            "We could not parse the JSON body of your request: "
            f"{_json_problem(first)}. "
            "Send valid JSON with Content-Type: application/json.",
            status_code=400,
            error_type="invalid_request_error",
            code="invalid_json",
        )
    loc = tuple(first.get("loc", ()))
    param = _param_of(loc)
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        message = f"Missing required parameter: '{param}'."
    elif param:
        message = f"Invalid value for '{param}': {msg}."
    else:
        message = f"Invalid request body: {msg}."
    code = "missing_required_parameter" if first.get("type") == "missing" else "invalid_value"
    return HoshikageError(
        message, param=param, code=code, status_code=400, error_type="invalid_request_error"
    )


def _respond(request: Request, err: HoshikageError,
             headers: dict[str, str] | None = None) -> JSONResponse:
    path = request.url.path
    shapes: Sequence[tuple[str, ErrorShape]] = getattr(request.app.state, "error_shapes", ())
    shape = next((s for prefix, s in shapes if path.startswith(prefix)), None)
    body = shape(err) if shape is not None else err.to_dict()
    return JSONResponse(body, status_code=err.status_code, headers=headers)


async def _on_hoshikage_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HoshikageError)
    if exc.status_code >= 500:
        log.error("%s %s -> %s: %s", request.method, request.url.path, exc.status_code, exc)
    return _respond(request, exc, headers=exc.headers or None)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _respond(request, validation_error_to_openai(exc))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error_type, code = _HTTP_CODES.get(exc.status_code, ("invalid_request_error", None))
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"Unknown URL: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}"
    err = HoshikageError(message, code=code, status_code=exc.status_code, error_type=error_type)
    return _respond(request, err, headers=getattr(exc, "headers", None))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    err = HoshikageError(
        "The server had an error while processing your request. "
        "The details are in the server log.",
        status_code=500,
        error_type="server_error",
    )
    return _respond(request, err)


async def _on_client_gone(request: Request, exc: Exception) -> Response:
    log.info("%s %s: client disconnected; work cancelled", request.method, request.url.path)
    return Response(status_code=499)  # nginx's "client closed request"; nobody reads it


def install_error_handlers(app: FastAPI,
                           shapes: Sequence[tuple[str, ErrorShape]] = ()) -> None:
    """Answer every failure in its dialect's shape: ``shapes`` maps a path prefix to
    a dialect's :data:`ErrorShape` (the first prefix that matches wins); other paths
    get OpenAI's."""
    app.state.error_shapes = tuple(shapes)
    app.add_exception_handler(ClientDisconnected, _on_client_gone)
    app.add_exception_handler(HoshikageError, _on_hoshikage_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
