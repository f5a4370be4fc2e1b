"""``build_app(config)``: the whole Hoshikage (its HTTP front end and every model's
replicas) as one Ray Serve application, for Ray's own tools::

    serve run hoshikage_ray.app:build_app config=hoshikage.toml
    # or in a Serve config file: import_path: hoshikage_ray.app:build_app, args: {config: ...}

Ray's HTTP proxy then serves the API (``serve run`` listens on port 8000).
"""

from __future__ import annotations

from typing import Any

from hoshikage_core.config import HoshikageConfig, load_config

from .deploy import bind_unit
from .units import units_of

__all__ = ["FrontEnd", "build_app"]


class FrontEnd:
    """The Serve deployment that answers HTTP: Hoshikage's own app, its engine
    reaching the model deployments of the same application."""

    def __init__(self, config: dict[str, Any], *units: Any) -> None:
        from hoshikage_core import Hoshikage

        del units  # bound so Serve deploys them with us; reached by name
        self.hoshikage = Hoshikage(config)

    def __serve_build_asgi_app__(self) -> Any:
        from hoshikage_core.api.app import create_app

        return create_app(self.hoshikage)


def build_app(args: dict[str, Any] | HoshikageConfig) -> Any:
    """The Serve application of a Hoshikage config: ``args["config"]`` is the path of a
    TOML file (``serve run ... config=PATH``), or pass a :class:`HoshikageConfig`."""
    from ray import serve

    config = args if isinstance(args, HoshikageConfig) else load_config(args["config"])
    config.cluster.engine = "ray"
    board = f"{config.cluster.name}-board"
    units = [bind_unit(config, unit, board) for unit in units_of(config)]
    front = serve.deployment(serve.ingress()(FrontEnd)).options(  # type: ignore[attr-defined]
        name="hoshikage", max_ongoing_requests=10_000, ray_actor_options={"num_cpus": 0})
    return front.bind(config.model_dump(mode="python"), *units)
