"""``hoshikage ps``, ``load``, ``unload``, ``pin``, ``unpin`` and ``reload``: a running
server's models."""

from __future__ import annotations

import os
import time
from typing import Any

import click

from ..config.durations import format_duration
from ..config.sizes import format_bytes
from .output import EXIT_FAILURE, err_console, fail, out_console, table
from .progress import LoadBars
from .remote import ServerClient, ServerError, model_path, server_options
from .shell import complete_model_names

__all__ = ["discovery_notes", "load", "pin", "ps", "reload", "render_replicas", "render_rows",
           "unload", "unpin"]

PS_HEADER = ("NAME", "STATE", "MEMORY", "UNLOADS", "RUNNING", "QUEUED", "LOADED IN", "FROM")
REPLICAS_HEADER = ("MODEL", "REPLICA", "STATE", "NODE", "PID", "RUNNING", "QUEUED")


def _until(model: dict[str, Any]) -> str:
    if model["state"] != "ready":
        return "-"
    if model.get("expires_at") is None:
        return "busy" if model["running"] or model["queued"] else "never"
    return f"in {format_duration(max(0, round(model['expires_at'] - time.time())))}"


def _state(model: dict[str, Any]) -> str:
    state = str(model["state"])
    if state == "loading" and model.get("load_progress") is not None:
        state = f"loading {int(model['load_progress'] * 100)}%"
    if model.get("removed"):
        state = f"{state}, removed"
    if model.get("error"):
        state = f"{state}: {model['error'][:60]}"
    return state


def _origin(model: dict[str, Any]) -> str:
    """``config``, ``dir ~/models``, ``huggingface``, ``ollama``; split and paired files."""
    origin = model.get("origin") or {"kind": "config"}
    text = str(origin["kind"])
    if origin.get("root") and origin["kind"] == "dir":
        home = os.path.expanduser("~")
        root = str(origin["root"])
        text += " " + ("~" + root[len(home):] if root.startswith(home + os.sep) else root)
    if origin.get("parts", 1) > 1:
        text += f", {origin['parts']} parts"
    if origin.get("mmproj"):
        text += ", +mmproj"
    return text


def render_rows(models: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The rows of the ``hoshikage ps`` table."""
    return [(m["id"], _state(m), format_bytes(m.get("memory_bytes")), _until(m),
             str(m["running"]), str(m["queued"]),
             f"{m['load_seconds']:.2f}s" if m.get("load_seconds") is not None else "-",
             _origin(m))
            for m in models]


def discovery_notes(discovery: dict[str, Any] | None) -> list[str]:
    """What discovery serves under another name or not at all, one line each (the
    server's own sentences: ``DiscoveryReport.lines``)."""
    return [str(note) for note in (discovery or {}).get("notes", ())]


def render_replicas(models: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The rows of ``hoshikage ps``'s replica table (models on a cluster engine)."""
    return [(m["id"], r["id"], r["state"], (r.get("node_id") or "-")[:12], str(r.get("pid")),
             str(r["running"]), str(r["queued"]))
            for m in models for r in m.get("replicas") or ()]


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Also list models that are not loaded.")
@server_options
def ps(show_all: bool, url: str, api_key: str | None) -> None:
    """Show a running server's models: state, memory, idle expiry, requests; on a
    cluster engine also each model's replicas (node, pid, requests).

    \b
    Examples:
      hoshikage ps
      hoshikage ps --all --url http://gpu-box:3030
    """
    try:
        status = ServerClient(url, api_key).request("GET", "/admin/models")
    except ServerError as exc:
        fail(exc.message, EXIT_FAILURE)
    models = status["data"]
    if not show_all:
        models = [m for m in models if m["state"] != "unloaded"]
    console = out_console()
    console.print(table(PS_HEADER, render_rows(models), console))
    replicas = render_replicas(models)
    if replicas:
        console.print(table(REPLICAS_HEADER, replicas, console))
    for note in discovery_notes(status.get("discovery")):
        console.print(f"note: {note}", markup=False, soft_wrap=True)


@click.command()
@server_options
def reload(url: str, api_key: str | None) -> None:
    """Make a running server read its config file again (and scan its discovery
    folders): new models are served at once, unchanged ones keep running, changed ones
    reload once their requests finish, removed ones finish theirs and unload. An
    invalid file is refused (exit 1, with the file and key) and the server keeps
    serving as before. Sending the server SIGHUP does the same.

    
    Examples:
      hoshikage reload
      kill -HUP $(pgrep -f "hoshikage run")
    """
    try:
        report = ServerClient(url, api_key).request("POST", "/admin/reload", timeout=None)
    except ServerError as exc:
        fail(exc.message, EXIT_FAILURE)
    console = out_console()
    lines = [f"{what}: {', '.join(report[what])}" for what in
             ("added", "removed", "reloaded", "updated") if report.get(what)]
    unchanged = len(report.get("unchanged", ()))
    lines.append(f"unchanged: {unchanged} model{'' if unchanged == 1 else 's'}")
    if report.get("restart_needed"):
        lines.append("needs a restart to apply: [" + "], [".join(report["restart_needed"])
                     + "]")
    lines += [f"note: {note}" for note in discovery_notes(report.get("discovery"))]
    console.print("\n".join(["reloaded", *lines]), markup=False, soft_wrap=True)


@click.command()
@click.argument("name", shell_complete=complete_model_names)
@server_options
def load(name: str, url: str, api_key: str | None) -> None:
    """Load model NAME on a running server now, and wait until it is ready.

    On a terminal a progress bar follows the load.

    \b
    Examples:
      hoshikage load smollm2
      hoshikage load default --url http://gpu-box:3030
    """
    info = load_with_progress(ServerClient(url, api_key), name)
    out_console().print(f"{info['id']}: {info['state']} ({format_bytes(info.get('memory_bytes'))},"
                        f" loaded in {info.get('load_seconds')}s)", markup=False)


def load_with_progress(client: ServerClient, name: str) -> dict[str, Any]:
    """Load ``name``, drawing its progress on a terminal; exits on failure."""
    info: dict[str, Any] = {}
    with LoadBars(err_console()) as bars:
        try:
            for line in client.json_lines("POST", f"/admin/models/{model_path(name)}/load"
                                          "?stream=true"):
                if line.get("state") == "loading":
                    bars.update(line["id"], line.get("load_progress"))
                else:
                    info = line
            bars.finish(info.get("id", name))
        except ServerError as exc:
            bars.finish(name, ok=False)
            fail(exc.message, EXIT_FAILURE)
    return info


@click.command()
@click.argument("name", shell_complete=complete_model_names)
@server_options
def unload(name: str, url: str, api_key: str | None) -> None:
    """Unload model NAME on a running server (after its running requests finish).

    \b
    Example:
      hoshikage unload smollm2
    """
    info = _post(name, url, api_key, "unload")
    out_console().print(f"{info['id']}: {info['state']}", markup=False)


def _post(name: str, url: str, api_key: str | None, action: str) -> dict[str, Any]:
    """``POST /admin/models/NAME/ACTION``, waiting as long as it takes; exit 1 on error."""
    try:
        info: dict[str, Any] = ServerClient(url, api_key).request(
            "POST", f"/admin/models/{model_path(name)}/{action}", timeout=None)
    except ServerError as exc:
        fail(exc.message, EXIT_FAILURE)
    return info


def _set_pin(name: str, url: str, api_key: str | None, action: str) -> None:
    info = _post(name, url, api_key, action)
    pinned = "pinned" if info.get("pinned") else "not pinned"
    out_console().print(f"{info['id']}: {info['state']}, {pinned}", markup=False)


@click.command()
@click.argument("name", shell_complete=complete_model_names)
@server_options
def pin(name: str, url: str, api_key: str | None) -> None:
    """Pin model NAME on a running server: never unloaded by its idle timer or to make
    room for another model (until the server restarts; `pinned = true` in the config
    keeps it pinned).

    \b
    Example:
      hoshikage pin smollm2
    """
    _set_pin(name, url, api_key, "pin")


@click.command()
@click.argument("name", shell_complete=complete_model_names)
@server_options
def unpin(name: str, url: str, api_key: str | None) -> None:
    """Unpin model NAME: its idle timer and eviction apply again.

    \b
    Example:
      hoshikage unpin smollm2
    """
    _set_pin(name, url, api_key, "unpin")
