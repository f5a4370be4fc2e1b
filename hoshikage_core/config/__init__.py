"""Configuration: the TOML schema, loading with readable errors, the default."""

from .default import bundled_model_path, default_config
from .durations import FOREVER, format_duration, parse_duration
from .loader import CONFIG_ENV_VAR, describe_validation_error, load_config, validate_config
from .schema import DefaultsConfig, HoshikageConfig, ModelConfig, ServerConfig

__all__ = [
    "CONFIG_ENV_VAR",
    "FOREVER",
    "DefaultsConfig",
    "HoshikageConfig",
    "ModelConfig",
    "ServerConfig",
    "bundled_model_path",
    "default_config",
    "describe_validation_error",
    "format_duration",
    "load_config",
    "parse_duration",
    "validate_config",
]
