"""Ray Serve deployments of a config's units: the replica classes, bound with the
config each replica's local Hoshikage runs."""

from __future__ import annotations

from typing import Any

from hoshikage_core.config import HoshikageConfig

from .replica import ModelReplica, PooledModel
from .units import Unit, replica_config

__all__ = ["bind_unit", "replica_class"]


def replica_class(unit: Unit) -> type:
    """The replica class of ``unit``: a pool's adds Ray's multiplexing of its models."""
    if unit.max_models is None:
        return ModelReplica
    return _pool_replica_class(unit.max_models)


def _pool_replica_class(max_models: int) -> type:
    from ray import serve

    class PoolReplica(ModelReplica):
        @serve.multiplexed(max_num_models_per_replica=max_models)
        async def _pooled(self, model: str) -> PooledModel:
            await self.hoshikage.load(model)
            return PooledModel(self.hoshikage, model)

        async def load_pooled(self, model: str) -> None:
            await self._pooled(model)

    PoolReplica.__name__ = PoolReplica.__qualname__ = "PoolReplica"
    return PoolReplica


def bind_unit(config: HoshikageConfig, unit: Unit, board: str) -> Any:
    """``unit`` as a bound Serve deployment (an application, or part of one)."""
    from ray import serve

    options = unit.serve_options(config.server.shutdown_timeout)
    if not unit.pooled:  # a pool's requests follow Ray's multiplexing instead
        options["request_router_config"] = {
            "request_router_class": "hoshikage_ray.routing.PrefixAffinityRouter"}
    deployment = serve.deployment(replica_class(unit)).options(  # type: ignore[attr-defined]
        **options)
    return deployment.bind(replica_config(config, unit), unit.name, board, unit.pooled)
