"""From a Hoshikage config to Ray Serve deployments: which models each deployment
serves, with how many replicas, what resources and which concurrency limits.

Pure functions of the config, so they are testable without Ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hoshikage_core.config import HoshikageConfig
from hoshikage_core.config.cluster import ModelClusterConfig, PoolConfig
from hoshikage_core.errors import ConfigError

__all__ = ["Unit", "replica_config", "units_of"]

FOREVER_DOWNSCALE = 600.0  # s; Ray's delay before scaling down when idle_timeout is forever


@dataclass(frozen=True)
class Unit:
    """One Serve deployment: a model's own replicas, or a pool's shared ones."""

    name: str  # the deployment's name
    models: tuple[str, ...]  # the configured models its replicas serve
    cluster: ModelClusterConfig
    pooled: bool
    parallel: int
    max_queue: int
    idle_timeout: float

    @property
    def max_models(self) -> int | None:
        return self.cluster.max_models if isinstance(self.cluster, PoolConfig) else None

    @property
    def scales_to_zero(self) -> bool:
        return self.cluster.plan().minimum == 0

    def serve_options(self, shutdown_timeout: float) -> dict[str, Any]:
        """``Deployment.options(...)`` for this unit.

        Admission stays Hoshikage's own, in each replica: ``parallel`` run, ``max_queue``
        wait, and one more is refused there with the usual 503 ``queue_full`` (so Ray
        lets ``parallel + max_queue + 1`` in at once; its default of 5 would starve
        continuous batching). Ray's router holds requests only while no replica can take
        them, e.g. while the first one starts from zero; its own queue bound is left
        off, as it counts a burst loosely and would refuse requests a replica has room
        for.
        """
        plan = self.cluster.plan()
        options: dict[str, Any] = {
            "name": self.name,
            "max_ongoing_requests": self.parallel + self.max_queue + 1,
            "ray_actor_options": {"num_cpus": self.cluster.num_cpus,
                                  "num_gpus": self.cluster.num_gpus},
            "graceful_shutdown_timeout_s": 5.0 if math.isinf(shutdown_timeout)
            else shutdown_timeout,
            "health_check_period_s": 2.0,
            "health_check_timeout_s": 30.0,
        }
        if plan.autoscaled:
            delay = self.idle_timeout if not math.isinf(self.idle_timeout) \
                else FOREVER_DOWNSCALE
            options["autoscaling_config"] = {
                "min_replicas": plan.minimum, "max_replicas": plan.maximum,
                "initial_replicas": plan.initial,
                "target_ongoing_requests": max(1, self.parallel),
                "upscale_delay_s": 1.0, "downscale_delay_s": max(delay, 1.0),
                "downscale_to_zero_delay_s": max(delay, 1.0), "metrics_interval_s": 1.0,
                "look_back_period_s": 2.0}
        else:
            options["num_replicas"] = plan.minimum
        return options


def units_of(config: HoshikageConfig) -> list[Unit]:
    """Every deployment the config asks for: one per model outside a pool, one per pool."""
    units: list[Unit] = []
    pooled: dict[str, list[str]] = {}
    for name in config.models:
        cluster = config.cluster_of(name)
        if cluster.pool is not None:
            pooled.setdefault(cluster.pool, []).append(name)
            continue
        settings = config.effective(name)
        units.append(Unit(name, (name,), cluster, False, settings.parallel,
                          settings.max_queue, settings.idle_timeout))
    for pool_name, pool in config.cluster.pools.items():
        members = tuple(pooled.get(pool_name, ()))
        if not members:
            continue
        name = f"pool-{pool_name}"
        if name in config.models:
            raise ConfigError(f"cluster.pools.{pool_name}: its deployment would be named "
                              f"'{name}', which is also a model's name; rename one")
        parallel = max(config.effective(m).parallel for m in members)
        max_queue = max(config.effective(m).max_queue for m in members)
        idle = max(config.effective(m).idle_timeout for m in members)
        units.append(Unit(name, members, pool, True, parallel, max_queue, idle))
    return units


def replica_config(config: HoshikageConfig, unit: Unit) -> dict[str, Any]:
    """The config of the local Hoshikage inside each of ``unit``'s replicas: its models
    (and the models that draft for them), the same defaults and plugins, no server."""
    data = config.model_dump(mode="python", exclude={"server", "cluster"})
    keep = set(unit.models) | {d for m in unit.models if (d := config.draft_of(m))}
    data["models"] = {n: m for n, m in data["models"].items() if n in keep}
    for model in data["models"].values():
        model["cluster"] = None
        model["preload"] = model["preload"] and not unit.pooled
        if unit.scales_to_zero:  # Ray removes the replica when idle; weights stay till then
            model["idle_timeout"] = math.inf
    if unit.max_models is not None:
        data["defaults"]["max_loaded_models"] = unit.max_models
    data["defaults"]["cluster"] = {}
    return data
