"""Anthropic's error shape: ``{"type": "error", "error": {"type", "message"}}``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from ...errors import HoshikageError

__all__ = ["AnthropicErrorResponse", "anthropic_error"]


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicErrorResponse(BaseModel):
    """Anthropic's error shape, for the schema."""

    type: Literal["error"]
    error: AnthropicErrorDetail

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
          503: "overloaded_error", 529: "overloaded_error"}


def anthropic_error(err: HoshikageError) -> dict[str, Any]:
    """``err`` as Anthropic's clients read errors (the status stays ``err``'s)."""
    status = err.status_code
    kind = _TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": err.message}}
