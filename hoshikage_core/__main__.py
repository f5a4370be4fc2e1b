"""``python -m hoshikage_core`` is the ``hoshikage`` command."""

from .cli import main

main(prog_name="hoshikage")
