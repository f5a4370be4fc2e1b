"""Shell completion: the ``completion`` command and completion of model names."""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from .remote import DEFAULT_URL, ServerClient, ServerError

__all__ = ["completion", "complete_model_names"]

SHELLS = ("bash", "zsh", "fish")


def _configured_names() -> list[str]:
    from ..errors import ConfigError
    from .serve import read_config

    try:
        config = read_config(None)  # $HOSHIKAGE_CONFIG, else the bundled model
    except ConfigError:
        return []
    return [alias for name, model in config.models.items() for alias in (name, *model.aliases)]


def complete_model_names(ctx: click.Context, param: click.Parameter,
                         incomplete: str) -> list[CompletionItem]:
    """Names and aliases from the running server, else from the config."""
    client = ServerClient(ctx.params.get("url") or os.environ.get("HOSHIKAGE_URL", DEFAULT_URL),
                          ctx.params.get("api_key") or os.environ.get("HOSHIKAGE_API_KEY"))
    try:
        models = client.request("GET", "/admin/models", timeout=0.5)["data"]
        names = [n for m in models for n in (m["id"], *m["aliases"])]
    except ServerError:
        names = _configured_names()
    return [CompletionItem(n) for n in dict.fromkeys(names) if n.startswith(incomplete)]


@click.command()
@click.argument("shell", type=click.Choice(SHELLS), required=False)
@click.pass_context
def completion(ctx: click.Context, shell: str | None) -> None:
    """Print the shell completion script for SHELL (default: from $SHELL).

    Model names complete from the running server, or from the config.

    \b
    Examples:
      eval "$(hoshikage completion bash)"     # in ~/.bashrc
      eval "$(hoshikage completion zsh)"      # in ~/.zshrc
      hoshikage completion fish > ~/.config/fish/completions/hoshikage.fish
    """
    shell = shell or Path(os.environ.get("SHELL", "bash")).name
    if shell not in SHELLS:
        raise click.UsageError(f"unknown shell {shell!r}; name one of {', '.join(SHELLS)}")
    root = ctx.find_root()
    cls = get_completion_class(shell)
    assert cls is not None
    script = cls(root.command, {}, "hoshikage", "_HOSHIKAGE_COMPLETE").source()
    click.echo(script)
