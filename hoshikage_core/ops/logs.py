"""Log setup for ``hoshikage run``: text or JSON lines, each with its request id.

Prompts and outputs are never logged unless ``[server] log_prompts = true``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from .request_ids import RequestIdFilter

__all__ = ["JsonFormatter", "QuietCancellation", "configure_logging"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, so that a terminal
    progress bar (Rich) that redirects it can print log lines above itself."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class QuietCancellation(logging.Filter):
    """uvicorn logs a request it cancels at the end of ``shutdown_timeout`` as an
    "Exception in ASGI application" with a traceback; it is expected, so say it in
    one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            record.msg, record.args, record.exc_info, record.exc_text = (
                "a request still running at the end of shutdown_timeout was cut off",
                (), None, None)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure_logging(level: str, fmt: str) -> None:
    logging.getLogger("uvicorn.error").addFilter(QuietCancellation())
    handler = StderrHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
