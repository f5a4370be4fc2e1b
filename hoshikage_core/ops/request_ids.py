"""The id of the request being handled, for every log line written while handling it."""

from __future__ import annotations

import logging
from contextvars import ContextVar

__all__ = ["REQUEST_ID", "RequestIdFilter"]

REQUEST_ID: ContextVar[str] = ContextVar("hoshikage_request_id", default="-")
"""The id of the request being handled (``-`` outside requests); in every log record."""


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True
