"""The ``hoshikage`` command (Click, with Rich for tables and progress bars).

One module per family of commands: ``serve`` (run), ``status`` (ps, load,
unload, pin, unpin, reload), ``chat``, ``local`` (models, plugins, config check) and
``completion``. Commands that talk to a running server share ``remote``.
"""

from __future__ import annotations

import click

from .. import __version__
from . import chat, local, serve, shell, status

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="hoshikage")
def main() -> None:
    """Hoshikage: local GGUF models behind an OpenAI-compatible API.

    \b
    Examples:
      hoshikage run                          # the bundled SmolLM2 on 127.0.0.1:3030
      hoshikage run --config hoshikage.toml  # your models
      hoshikage chat                         # talk to the default model in the terminal
      hoshikage ps                           # what a running server has loaded
      hoshikage load smollm2                 # load now, with a progress bar
      hoshikage reload                       # apply config edits and new model files
      hoshikage models                       # what the config serves: backend, size, context
      hoshikage config check hoshikage.toml
      hoshikage plugins
      hoshikage completion bash              # shell completion (also zsh, fish)

    Open http://127.0.0.1:3030/ in a browser for the status and chat page.
    """


for command in (serve.run, status.ps, status.load, status.unload, status.pin, status.unpin,
                status.reload, chat.chat, local.models, local.plugins, local.config,
                shell.completion):
    main.add_command(command)
