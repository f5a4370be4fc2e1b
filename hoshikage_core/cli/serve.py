"""``hoshikage run``: serve the configured models over HTTP."""

from __future__ import annotations

import math
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..config import CONFIG_ENV_VAR, HoshikageConfig, default_config, load_config
from ..errors import ConfigError, PluginError
from .output import err_console, fail
from .progress import LoadBars

if TYPE_CHECKING:
    from ..config.schema import ServerConfig
    from ..hoshikage import Hoshikage

__all__ = ["read_config", "run"]


def read_config(path: str | None) -> HoshikageConfig:
    """--config, else $HOSHIKAGE_CONFIG, else the bundled default model."""
    path = path or os.environ.get(CONFIG_ENV_VAR) or None
    return load_config(Path(path)) if path else default_config()


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def show_load_progress(hoshikage: Hoshikage) -> None:
    """On a terminal, draw a progress bar while a model loads (the log goes above it)."""
    from ..hoshikage import LoadEvent, ModelState

    bars = LoadBars(err_console())
    if not bars.enabled:
        return

    def on_load(event: LoadEvent) -> None:  # on the event loop
        if event.done:
            bars.finish(event.model, ok=event.state is ModelState.READY)
        else:
            bars.update(event.model, event.progress)

    hoshikage.watch_loads(on_load)


@click.command()
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False),
              help=f"TOML config file (default: ${CONFIG_ENV_VAR}, else the bundled model).")
@click.option("--host", help="Address to listen on (overrides [server] host).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (overrides [server] port).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Log lines as text or JSON (overrides [server] log_format).")
def run(config_path: str | None, host: str | None, port: int | None, log_level: str,
        log_format: str | None) -> None:
    """Serve the configured models over HTTP (OpenAI API, status page at /).

    Models load on their first request (a progress bar shows it on a
    terminal) and unload after idle_timeout. Stop with Ctrl-C: running
    requests finish first.

    \b
    Examples:
      hoshikage run
      hoshikage run --config examples/hoshikage.toml --port 8080
      HOSHIKAGE_CONFIG=~/hoshikage.toml hoshikage run --log-format json
    """
    from ..api.fast_start import FastStartApp
    from ..hoshikage import Hoshikage
    from ..ops.logs import configure_logging
    from ..ops.security import check_bind

    try:
        config = read_config(config_path)
        given = {"host": host, "port": port}
        config.override("server", **{k: v for k, v in given.items() if v is not None})
        server = config.server
        hoshikage = Hoshikage(config)
        check_bind(server, hoshikage.api_keys)
        configure_logging(log_level, log_format or server.log_format)
    except (ConfigError, PluginError) as exc:
        fail(str(exc))

    def build() -> object:
        from ..api.app import create_app

        return create_app(hoshikage, close_on_shutdown=False)

    app = FastStartApp(build, hoshikage)  # type: ignore[arg-type]
    show_load_progress(hoshikage)
    names = ", ".join(
        f"{m.id} ({', '.join(m.aliases)})" if m.aliases else m.id for m in hoshikage.list_models()
    )
    browser = " (status and chat page: open it in a browser)" if server.ui else ""
    ollama = (f"\n  also on http://{server.host}:{server.ollama_port} (ollama_port, for Ollama "
              "clients)" if server.ollama_port not in (None, server.port) else "")
    click.echo(f"Hoshikage {__version__} on http://{server.host}:{server.port}{browser}"
               f"{ollama}\n  models: {names or 'none'}", err=True)
    # The decode engine needs the GIL for a moment between llama.cpp steps; hand it
    # over sooner than the default 5 ms when the event loop is busy writing streams.
    sys.setswitchinterval(0.0005)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores these handlers and
    # re-raises the signal: by then all is stopped and unloaded, so exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    serve(app, server, log_level)


def serve(app: Any, server: ServerConfig, log_level: str) -> None:
    """Serve ``app`` with uvicorn on ``server.port``, and on ``server.ollama_port`` too
    when it is set: one server, one app, two sockets."""
    import uvicorn

    settings: dict[str, Any] = {
        "host": server.host, "log_level": log_level,
        "log_config": None, "access_log": False,  # our logging; our access lines
        "timeout_graceful_shutdown": None if math.isinf(server.shutdown_timeout)
        else int(math.ceil(server.shutdown_timeout))}
    if server.ollama_port is None or server.ollama_port == server.port:
        uvicorn.run(app, port=server.port, **settings)
        return
    config = uvicorn.Config(app, port=server.port, **settings)
    second = uvicorn.Config(app, port=server.ollama_port, **settings)
    sockets = [config.bind_socket()]  # each logs its address; exits if it cannot bind
    try:
        sockets.append(second.bind_socket())
    except SystemExit:
        click.echo(f"hoshikage: cannot listen on ollama_port {server.ollama_port} (is Ollama "
                   "itself running there?)", err=True)
        raise
    uvicorn_server = uvicorn.Server(config)
    try:
        uvicorn_server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()
    if not uvicorn_server.started:
        sys.exit(3)  # uvicorn's exit status for a failed startup, as uvicorn.run
