"""Talking to a running server from the CLI: its address, its key, its errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import click
import httpx
from httpx_sse import EventSource

__all__ = ["DEFAULT_URL", "ServerClient", "ServerError", "server_options"]

DEFAULT_URL = "http://127.0.0.1:3030"

F = TypeVar("F", bound=Callable[..., Any])


def server_options(fn: F) -> F:
    """``--url`` and ``--api-key``, also from ``HOSHIKAGE_URL`` and ``HOSHIKAGE_API_KEY``."""
    fn = click.option("--api-key", envvar="HOSHIKAGE_API_KEY", default=None, metavar="KEY",
                      help="Bearer key, when the server has api_keys (env HOSHIKAGE_API_KEY)."
                      )(fn)
    fn = click.option("--url", envvar="HOSHIKAGE_URL", default=DEFAULT_URL, show_default=True,
                      help="The server (env HOSHIKAGE_URL; a trailing /v1 is ignored).")(fn)
    return fn


class ServerError(Exception):
    """The server could not be reached, or answered with an error."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def model_path(name: str) -> str:
    return quote(name, safe="")


@dataclass(frozen=True)
class ServerClient:
    url: str
    api_key: str | None = None

    @property
    def base(self) -> str:
        return self.url.rstrip("/").removesuffix("/v1")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _unreachable(self, exc: Exception) -> ServerError:
        return ServerError(f"cannot reach a Hoshikage server at {self.base} ({exc}); "
                           "is `hoshikage run` running?")

    def request(self, method: str, path: str, *, json_body: Any = None,
                timeout: float | None = 10.0) -> Any:
        """The JSON answer of one call; :class:`ServerError` on any failure."""
        try:
            response = httpx.request(method, f"{self.base}{path}", headers=self._headers(),
                                     json=json_body, timeout=timeout)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json()

    @contextmanager
    def stream(self, method: str, path: str, *, json_body: Any = None,
               timeout: float | None = None) -> Iterator[httpx.Response]:
        """An open streaming response (closing it stops the server's work)."""
        try:
            with httpx.stream(method, f"{self.base}{path}", headers=self._headers(),
                              json=json_body, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_of(response)
                yield response
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    @contextmanager
    def events(self, path: str, json_body: Any) -> Iterator[Iterator[dict[str, Any]]]:
        """POST ``json_body`` and iterate the JSON of each server-sent event up to
        ``[DONE]``; an ``{"error": ...}`` event raises :class:`ServerError`."""
        with self.stream("POST", path, json_body=json_body) as response:
            yield _event_payloads(EventSource(response))

    def json_lines(self, method: str, path: str, *,
                   timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Each line of an NDJSON answer; an ``{"error": ...}`` line raises."""
        with self.stream(method, path, timeout=timeout) as response:
            for line in response.iter_lines():
                if not line.strip():
                    continue
                yield _unless_error(json.loads(line))


def _event_payloads(source: EventSource) -> Iterator[dict[str, Any]]:
    for event in source.iter_sse():
        if event.data == "[DONE]":
            return
        yield _unless_error(json.loads(event.data))


def _unless_error(payload: Any) -> Any:
    """``payload``, unless it is an OpenAI-shaped error line or event: then raise it."""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        raise ServerError(str(payload["error"].get("message")))
    return payload


def _error_of(response: httpx.Response) -> ServerError:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text
    return ServerError(f"{response.status_code}: {message}", response.status_code)
