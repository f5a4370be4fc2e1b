"""FastAPI dependencies: the Hoshikage behind the app, API-key checks."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel

from ..errors import HoshikageError
from ..hoshikage import Hoshikage
from ..ops.security import key_matches

__all__ = ["HoshikageDep", "get_hoshikage", "log_exchange", "log_unknown_fields",
           "require_api_key"]

log = logging.getLogger(__name__)


def get_hoshikage(request: Request) -> Hoshikage:
    hoshikage: Hoshikage = request.app.state.hoshikage
    return hoshikage


HoshikageDep = Annotated[Hoshikage, Depends(get_hoshikage)]
"""A route parameter typed ``HoshikageDep`` receives the app's Hoshikage."""


def require_api_key(request: Request) -> None:
    """Auth against ``[server] api_keys``, the key sent as ``Authorization: Bearer``
    or (as Anthropic's clients do) ``x-api-key``; no keys configured = open."""
    keys = get_hoshikage(request).api_keys
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if token and key_matches(token, keys):
        return
    other = request.headers.get("x-api-key", "").strip()
    if other and key_matches(other, keys):
        return
    message = (
        "Missing API key: send it as 'Authorization: Bearer YOUR_KEY' (or 'x-api-key')."
        if not (token or other) else "Incorrect API key provided."
    )
    raise HoshikageError(message, status_code=401, error_type="authentication_error",
                         code="invalid_api_key")


def log_exchange(hoshikage: Hoshikage, what: str, content: object) -> None:
    """Log a prompt or an output, only if the operator enabled ``log_prompts``."""
    if hoshikage.config.server.log_prompts:
        log.info("%s: %s", what, content)


def log_unknown_fields(body: BaseModel, endpoint: str) -> None:
    extra = body.model_extra
    if extra:
        log.debug("%s: ignoring unknown fields %s", endpoint, sorted(extra))
