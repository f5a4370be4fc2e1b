"""llama-cpp-python as a reference, with the weight-repacking choice Hoshikage makes here.

``llama_cpp.Llama`` has no argument for llama.cpp's ``use_extra_bufts``; on a machine
whose AMX faults (see ``hoshikage_backends.llamacpp.repack``) it would die of SIGILL,
and elsewhere it must repack exactly when Hoshikage does, or the comparison is unfair.
So its default model parameters are set for the duration of the construction.

``python -m bench.raw_llama SERVER-ARGS...`` runs llama-cpp-python's own server so.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hoshikage_backends.llamacpp.repack import repack_is_safe

__all__ = ["raw_llama", "repack_default"]

_PATCH_LOCK = threading.Lock()  # guards the brief swap of llama_cpp's default parameters


@contextmanager
def repack_default(model: Path) -> Iterator[None]:
    """Within the block, llama-cpp-python loads models repacked iff Hoshikage would."""
    import llama_cpp.llama_cpp as lib

    enabled = repack_is_safe(str(model))
    original = lib.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = enabled
        return params

    with _PATCH_LOCK:
        lib.llama_model_default_params = defaults
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def raw_llama(model: Path, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model, **kwargs)``, repacked iff Hoshikage would."""
    import llama_cpp

    with repack_default(model):
        return llama_cpp.Llama(str(model), **kwargs)


def _serve(argv: list[str]) -> None:
    from llama_cpp.server.__main__ import main

    model = Path(argv[argv.index("--model") + 1])
    sys.argv = ["llama_cpp.server", *argv]
    with repack_default(model):  # held for the server's life: it loads at start
        main()


if __name__ == "__main__":
    _serve(sys.argv[1:])
