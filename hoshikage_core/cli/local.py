"""Commands that read the config and the installed plugins; no server needed:
``models``, ``plugins``, ``config check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..config import CONFIG_ENV_VAR, HoshikageConfig, load_config
from ..config.sizes import format_bytes
from ..errors import ConfigError, PluginError
from .output import fail, out_console, table
from .serve import read_config

__all__ = ["config", "models", "plugins"]

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False),
    help=f"TOML config file (default: ${CONFIG_ENV_VAR}, else the bundled model).")


def _trained_context(path: Path | None) -> int | None:
    from ..kit.gguf import GGUFError, is_gguf, read_gguf_header

    if path is None or not path.is_file() or not is_gguf(path):
        return None
    try:
        value = read_gguf_header(path).arch_value("context_length")
    except (GGUFError, OSError):
        return None
    return int(value) if isinstance(value, int) else None


def describe_models(cfg: HoshikageConfig) -> list[dict[str, Any]]:
    """What ``hoshikage models`` shows: one entry per configured model."""
    from ..plugins.discovery import create_plugin_manager
    from ..types import ModelSpec

    plugins = create_plugin_manager(plugin_dir=cfg.plugins.dir, disable=cfg.plugins.disable)
    entries = []
    for name, model in cfg.models.items():
        path = model.path
        trained = _trained_context(path)
        context: int | None = None
        backend = plugins.backend(model.backend)
        if backend is not None:
            try:
                options = backend.validate_options(ModelSpec(name, path, dict(model.options)))
            except Exception:  # `config check` explains; here we only describe
                options = None
            context = getattr(options, "n_ctx", None) if options is not None \
                else model.options.get("n_ctx")
        if context == 0:  # "the model's own"
            context = trained
        entries.append({
            "id": name,
            "aliases": list(model.aliases),
            "backend": model.backend,
            "path": str(path) if path else None,
            "file_bytes": path.stat().st_size if path and path.is_file() else None,
            "context": context,
            "trained_context": trained,
            "parallel": cfg.effective(name).parallel,
            "origin": cfg.origin(name).to_dict(),
        })
    return entries


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(config_path: str | None, as_json: bool) -> None:
    """List the configured and discovered models: backend, file size, context, file.

    Reads the config and scans its discovery folders (no server needed). CONTEXT is
    the tokens one request may use (n_ctx), with the model's trained context beside it.

    \b
    Examples:
      hoshikage models
      hoshikage models --config hoshikage.toml --json
    """
    try:
        cfg = read_config(config_path)
        entries = describe_models(cfg)
    except (ConfigError, PluginError) as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return

    def context(entry: dict[str, Any]) -> str:
        used, trained = entry["context"], entry["trained_context"]
        if used is None:
            return "-"
        return f"{used} of {trained}" if trained and trained != used else str(used)

    rows = [(e["id"], ", ".join(e["aliases"]) or "-", e["backend"],
             format_bytes(e["file_bytes"]), context(e), e["path"] or "-") for e in entries]
    console = out_console()
    console.print(table(("NAME", "ALIASES", "BACKEND", "SIZE", "CONTEXT", "FILE"), rows,
                        console))
    for line in cfg.discovery_report.lines():
        console.print(f"note: {line}", markup=False, soft_wrap=True)


def _status(info: Any) -> str:
    if info.disabled:
        return f"disabled by {info.disabled}"
    if info.error:
        return f"FAILED TO IMPORT: {info.error}"
    if info.unavailable:
        return f"unavailable: {info.unavailable}"
    return "ok"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False),
              envvar=CONFIG_ENV_VAR, help="Also apply this config's [plugins] dir and disable.")
def plugins(as_json: bool, config_path: str | None) -> None:
    """List plugins: name, version, source, availability, hooks.

    \b
    Examples:
      hoshikage plugins
      hoshikage plugins --json
      HOSHIKAGE_DISABLE_PLUGINS=ctransformers hoshikage plugins
    """
    from ..hoshikage import Hoshikage

    try:
        # only the config's [plugins] matter here: its models are not checked
        cfg: HoshikageConfig | dict[str, Any] = load_config(Path(config_path)).model_copy(
            update={"models": {}}) if config_path else {"models": {}}
        infos = Hoshikage(cfg).plugins.describe()
    except (ConfigError, PluginError) as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    rows = [(info.name, info.version or "-",
             f"{info.source}" + (f" ({info.distribution})" if info.distribution else ""),
             _status(info), ", ".join(h.removeprefix("hoshikage_") for h in info.hooks) or "-")
            for info in infos]
    console = out_console()
    console.print(table(("NAME", "VERSION", "SOURCE", "STATUS", "HOOKS"), rows, console))


@click.group()
def config() -> None:
    """Work with configuration files.

    \b
    Example:
      hoshikage config check hoshikage.toml
    """


@config.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def config_check(path: str) -> None:
    """Validate a config file (keys, values, model files, backend options).

    \b
    Example:
      hoshikage config check hoshikage.toml
    """
    from ..hoshikage import Hoshikage

    try:
        cfg = load_config(Path(path))
        Hoshikage(cfg)  # loads the plugins and has each backend check its models' options
    except (ConfigError, PluginError) as exc:
        fail(str(exc))
    click.echo(f"{path}: OK, {len(cfg.models)} model(s)")
    for name, model in cfg.models.items():
        aliases = f" aliases: {', '.join(model.aliases)}" if model.aliases else ""
        found = " (discovered)" if cfg.origin(name).kind != "config" else ""
        click.echo(f"  {name}: {model.backend} {model.path or ''}{aliases}{found}")
    for line in cfg.discovery_report.lines():
        click.echo(f"  note: {line}")
