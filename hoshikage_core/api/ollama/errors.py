"""Ollama's error shape, ``{"error": "message"}``, and the OpenAPI entries for it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ...errors import HoshikageError, ModelNotFoundError
from ..schema_docs import error_responses

__all__ = ["OLLAMA_ERRORS", "OllamaError", "ollama_error"]


class OllamaError(BaseModel):
    """Every error Ollama clients read: one message (the HTTP status says the kind)."""

    error: str


def ollama_error(err: HoshikageError) -> dict[str, Any]:
    """``err`` as Ollama's clients read errors (the status stays ``err``'s)."""
    if isinstance(err, ModelNotFoundError):
        available = err.message.partition("Available models: ")[2].rstrip(".")
        hint = f"; the configured models are: {available}" if available else ""
        return {"error": f'model "{err.model}" not found: Hoshikage serves the models in '
                         f"its config file and cannot pull others{hint}"}
    return {"error": err.message}


OLLAMA_ERRORS = error_responses(400, 401, 404, 413, 500, 503, shape=OllamaError)
"""The OpenAPI ``responses`` of every ``/api/*`` route."""
