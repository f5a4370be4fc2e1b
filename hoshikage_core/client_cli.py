"""CLI commands that talk to a running server: ``ps``, ``load``, ``unload``."""

from __future__ import annotations

import sys
import time
from typing import Any, NoReturn

import click
import httpx

from .config.durations import format_duration
from .config.sizes import format_bytes

__all__ = ["load", "ps", "unload"]

DEFAULT_URL = "http://127.0.0.1:3030"

server_options = [
    click.option("--url", envvar="HOSHIKAGE_URL", default=DEFAULT_URL, show_default=True,
                 help="The server (env HOSHIKAGE_URL; a trailing /v1 is ignored)."),
    click.option("--api-key", envvar="HOSHIKAGE_API_KEY", default=None,
                 help="Bearer key, when the server has api_keys (env HOSHIKAGE_API_KEY)."),
]


def with_server_options(fn: Any) -> Any:
    for option in reversed(server_options):
        fn = option(fn)
    return fn


def _fail(message: str) -> NoReturn:
    click.echo(f"hoshikage: {message}", err=True)
    sys.exit(1)


def _call(method: str, url: str, path: str, api_key: str | None,
          timeout: float | None = 10.0) -> Any:
    base = url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.request(method, f"{base}{path}", headers=headers, timeout=timeout)
    except httpx.TransportError as exc:
        _fail(f"cannot reach a Hoshikage server at {base} ({exc}); is `hoshikage run` running?")
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        _fail(f"{response.status_code}: {message}")
    return response.json()


def _until(expires_at: float | None, state: str) -> str:
    if state != "ready":
        return "-"
    if expires_at is None:
        return "busy or forever"
    return f"in {format_duration(max(0, round(expires_at - time.time())))}"


def render_table(models: list[dict[str, Any]]) -> str:
    """The ``hoshikage ps`` table."""
    header = ("NAME", "STATE", "MEMORY", "UNLOADS", "RUNNING", "QUEUED", "LOADED IN")
    rows = [header]
    for m in models:
        load = f"{m['load_seconds']:.2f}s" if m.get("load_seconds") is not None else "-"
        state = m["state"] if not m.get("error") else f"{m['state']}: {m['error'][:60]}"
        rows.append((m["id"], state, format_bytes(m.get("memory_bytes")),
                     _until(m.get("expires_at"), m["state"]), str(m["running"]),
                     str(m["queued"]), load))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Also list models that are not loaded.")
@with_server_options
def ps(show_all: bool, url: str, api_key: str | None) -> None:
    """Show the models of a running server: state, memory, idle expiry, requests.

    \b
    Examples:
      hoshikage ps
      hoshikage ps --all --url http://gpu-box:3030
    """
    models = _call("GET", url, "/admin/models", api_key)["data"]
    if not show_all:
        models = [m for m in models if m["state"] != "unloaded"]
    click.echo(render_table(models))


@click.command()
@click.argument("name")
@with_server_options
def load(name: str, url: str, api_key: str | None) -> None:
    """Load model NAME on a running server now (waits until it is ready)."""
    info = _call("POST", url, f"/admin/models/{name}/load", api_key, timeout=None)
    click.echo(f"{info['id']}: {info['state']} ({format_bytes(info.get('memory_bytes'))}, "
               f"loaded in {info.get('load_seconds')}s)")


@click.command()
@click.argument("name")
@with_server_options
def unload(name: str, url: str, api_key: str | None) -> None:
    """Unload model NAME on a running server (after its running requests finish)."""
    info = _call("POST", url, f"/admin/models/{name}/unload", api_key, timeout=None)
    click.echo(f"{info['id']}: {info['state']}")


def register(group: click.Group) -> None:
    for command in (ps, load, unload):
        group.add_command(command)
