"""The ``hoshikage`` command (Click)."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

import click

from . import __version__
from .client_cli import register as register_client_commands
from .config import CONFIG_ENV_VAR, HoshikageConfig, default_config, load_config
from .errors import ConfigError, PluginError
from .logs import configure_logging
from .security import check_bind

__all__ = ["main"]

EXIT_USAGE = 2


def _fail(message: str) -> NoReturn:
    click.echo(message if message.startswith("hoshikage") else f"hoshikage: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def _read_config(path: str | None) -> HoshikageConfig:
    """--config, else $HOSHIKAGE_CONFIG, else the bundled default model."""
    path = path or os.environ.get(CONFIG_ENV_VAR) or None
    return load_config(Path(path)) if path else default_config()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="hoshikage")
def main() -> None:
    """Hoshikage: local GGUF models behind an OpenAI-compatible API.

    \b
    Examples:
      hoshikage run                          # the bundled SmolLM2 on 127.0.0.1:3030
      hoshikage run --config hoshikage.toml  # your models
      hoshikage config check hoshikage.toml
      hoshikage ps                           # what a running server has loaded
      hoshikage unload smollm2
      hoshikage plugins
    """


@main.command()
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
    """Serve the configured models over HTTP.

    \b
    Examples:
      hoshikage run
      hoshikage run --config examples/hoshikage.toml --port 8080
    """
    import uvicorn

    from .api.fast_start import FastStartApp
    from .hoshikage import Hoshikage

    try:
        config = _read_config(config_path)
        server = config.server
        if host is not None:
            server.host = host
        if port is not None:
            server.port = port
        hoshikage = Hoshikage(config)
        check_bind(server, hoshikage.api_keys)
        configure_logging(log_level, log_format or server.log_format)
    except (ConfigError, PluginError) as exc:
        _fail(str(exc))
    def build() -> object:
        from .api.app import create_app

        return create_app(hoshikage, close_on_shutdown=False)

    app = FastStartApp(build, hoshikage)  # type: ignore[arg-type]
    names = ", ".join(
        f"{m.id} ({', '.join(m.aliases)})" if m.aliases else m.id for m in hoshikage.list_models()
    )
    click.echo(f"Hoshikage {__version__} on http://{server.host}:{server.port}  models: "
               f"{names or 'none'}", err=True)
    # The decode engine needs the GIL for a moment between llama.cpp steps; hand it
    # over sooner than the default 5 ms when the event loop is busy writing streams.
    sys.setswitchinterval(0.0005)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores these handlers and
    # re-raises the signal: by then all is stopped and unloaded, so exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    uvicorn.run(app, host=server.host, port=server.port, log_level=log_level,
                log_config=None, access_log=False,  # our logging; our access lines
                timeout_graceful_shutdown=None if math.isinf(server.shutdown_timeout)
                else int(math.ceil(server.shutdown_timeout)))


register_client_commands(main)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False),
              envvar=CONFIG_ENV_VAR, help="Also apply this config's [plugins] dir and disable.")
def plugins(as_json: bool, config_path: str | None) -> None:
    """List plugins: name, version, source, hooks, availability.

    \b
    Examples:
      hoshikage plugins
      hoshikage plugins --json
      HOSHIKAGE_DISABLE_PLUGINS=ctransformers hoshikage plugins
    """
    from .plugin_loading import create_plugin_manager

    try:
        settings = load_config(Path(config_path)).plugins if config_path else None
        infos = create_plugin_manager(
            plugin_dir=settings.dir if settings else None,
            disable=settings.disable if settings else ()).describe()
    except (ConfigError, PluginError) as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    for info in infos:
        if info.disabled:
            status = f"disabled by {info.disabled}"
        elif info.error:
            status = f"FAILED TO IMPORT: {info.error}"
        elif info.unavailable:
            status = f"unavailable: {info.unavailable}"
        else:
            status = "ok"
        dist = f" from {info.distribution}" if info.distribution else ""
        click.echo(f"{info.name} {info.version or ''}{dist} [{info.source}] {status}")
        if info.hooks:
            click.echo(f"    hooks: {', '.join(info.hooks)}")


@main.group()
def config() -> None:
    """Work with configuration files."""


@config.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def config_check(path: str) -> None:
    """Validate a config file (keys, values, model files, backend options).

    \b
    Example:
      hoshikage config check hoshikage.toml
    """
    from .hoshikage import check_models
    from .plugin_loading import create_plugin_manager

    try:
        cfg = load_config(Path(path))
        check_models(cfg, create_plugin_manager(plugin_dir=cfg.plugins.dir,
                                                disable=cfg.plugins.disable))
    except (ConfigError, PluginError) as exc:
        _fail(str(exc))
    click.echo(f"{path}: OK, {len(cfg.models)} model(s)")
    for name, model in cfg.models.items():
        aliases = f" aliases: {', '.join(model.aliases)}" if model.aliases else ""
        click.echo(f"  {name}: {model.backend} {model.path or ''}{aliases}")
