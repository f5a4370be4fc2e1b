"""Putting a Hoshikage together from its config: each model's backend checked against
its options, and the engine that runs the models built."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .config import HoshikageConfig, describe_validation_error
from .engines import EngineContext, ModelEngine
from .errors import ConfigError
from .kit.options import OptionsError
from .lifecycle import ModelManager
from .plugins.registry import PluginRegistry
from .types import ModelSpec

__all__ = ["check_models", "make_engine"]


def make_engine(context: EngineContext) -> ModelEngine:
    """This process's model manager, or the engine plugin ``[cluster] engine`` names."""
    config = context.config
    name = config.cluster.engine
    if name == "local":
        return ModelManager(config, context.plugins, context.executor, context.clock,
                            context.metrics, context.options)
    build = context.plugins.engine(name)
    if build is None:
        where = f" in {config.source}" if config.source else ""
        failed = context.plugins.failed(name)
        hint = f"it did not load ({failed})" if failed else (
            "no installed plugin offers it" + (" (pip install 'hoshikage[ray]')"
                                               if name == "ray" else ""))
        raise ConfigError(f"Invalid configuration{where}:\n  - cluster.engine: expected "
                          f"\"local\" or an installed engine; '{name}': {hint}")
    engine: ModelEngine = build(context=context)
    return engine


def check_models(config: HoshikageConfig, plugins: PluginRegistry) -> dict[str, Any]:
    """Each model names a known backend, and that backend accepts its options.

    Returns, per model, what the backend's ``hoshikage_validate_options`` made of
    them (when it returned anything): the options its other hooks then receive."""
    where = f" in {config.source}" if config.source else ""
    problems: list[str] = []
    normalised: dict[str, Any] = {}
    for name, model in config.models.items():
        backend = plugins.backend(model.backend)
        if backend is None:
            if plugins.failed(model.backend):
                continue  # reported when used, with the import error; startup goes on
            known = ", ".join(plugins.backend_names()) or "none"
            problems.append(
                f"  - models.{name}.backend: no backend named '{model.backend}' is "
                f"installed (installed backends: {known})"
            )
            continue
        spec = ModelSpec(name=name, path=model.path, options=dict(model.options))
        try:
            options = backend.validate_options(spec)
            if options is not None:
                normalised[name] = options
        except OptionsError as exc:
            problems.extend(exc.problems)
        except ValidationError as exc:
            text = describe_validation_error(exc, prefix=("models", name, "options"))
            problems.extend(text.splitlines()[1:])
        except (ValueError, TypeError) as exc:
            problems.append(f"  - models.{name}.options: {exc}")
    if problems:
        raise ConfigError("\n".join([f"Invalid configuration{where}:", *problems]))
    return normalised
