"""``[cluster]``, ``[defaults.cluster]`` and ``[models.NAME.cluster]``: where models run.

``engine = "local"`` (the default) is this process. Another engine (``"ray"``, from
``hoshikage-ray``) runs each model's replicas on a cluster; these tables say how many
and with what resources. They are validated here, whichever engine is installed.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ClusterConfig", "ModelClusterConfig", "PoolConfig", "ReplicaPlan"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelClusterConfig(_Table):
    """``[models.NAME.cluster]`` (defaults in ``[defaults.cluster]``): one model's replicas.

    ``replicas`` fixes their number; ``min_replicas``/``max_replicas`` autoscale on
    ongoing requests (``min_replicas = 0``: none while idle, so the model's
    ``idle_timeout`` is the delay before the last replica goes). ``pool`` puts a
    model into a shared pool of replicas (``[cluster.pools.NAME]``) instead.
    """

    replicas: int | None = Field(None, ge=1)
    min_replicas: int | None = Field(None, ge=0)
    max_replicas: int | None = Field(None, ge=1)
    num_gpus: float = Field(0.0, ge=0)
    num_cpus: float = Field(1.0, ge=0)
    pool: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _fixed_or_autoscaled(self) -> ModelClusterConfig:
        autoscaled = self.min_replicas is not None or self.max_replicas is not None
        if self.replicas is not None and autoscaled:
            raise ValueError("expected either replicas (a fixed number) or min_replicas/"
                             "max_replicas (autoscaling), not both")
        low = self.min_replicas or 0
        if self.max_replicas is not None and low > self.max_replicas:
            raise ValueError(f"min_replicas ({low}) is more than max_replicas "
                             f"({self.max_replicas})")
        return self

    def merged_over(self, defaults: ModelClusterConfig) -> ModelClusterConfig:
        """These settings, with ``defaults`` for the keys this table leaves out (a fixed
        ``replicas`` here replaces autoscaling there, and the other way round)."""
        values = defaults.model_dump()
        mine = self.model_dump(include=self.model_fields_set)
        if mine.keys() & {"replicas"}:
            values.update(min_replicas=None, max_replicas=None)
        if mine.keys() & {"min_replicas", "max_replicas"}:
            values.update(replicas=None)
        values.update(mine)
        return ModelClusterConfig(**values)

    def plan(self) -> ReplicaPlan:
        """How many replicas, as the engine deploys them."""
        if self.min_replicas is None and self.max_replicas is None:
            fixed = self.replicas or 1
            return ReplicaPlan(fixed, fixed, fixed)
        low = self.min_replicas if self.min_replicas is not None else 1
        high = self.max_replicas if self.max_replicas is not None else max(low, 1)
        return ReplicaPlan(low, high, max(low, 1) if low else 0)


class ReplicaPlan(BaseModel):
    """Replica counts: ``minimum`` = ``maximum`` when fixed; ``initial`` at deploy."""

    model_config = ConfigDict(frozen=True)

    minimum: int
    maximum: int
    initial: int

    def __init__(self, minimum: int, maximum: int, initial: int) -> None:
        super().__init__(minimum=minimum, maximum=maximum, initial=initial)

    @property
    def autoscaled(self) -> bool:
        return self.minimum != self.maximum


class PoolConfig(ModelClusterConfig):
    """``[cluster.pools.NAME]``: replicas shared by the models that name this pool,
    each replica holding up to ``max_models`` of them (least recently used go first),
    within ``[defaults] memory_budget``."""

    max_models: int = Field(3, ge=1)


class ClusterConfig(_Table):
    """``[cluster]``: which engine runs the models, and where its cluster is."""

    engine: Annotated[str, Field(min_length=1)] = "local"
    address: str = "auto"
    """``"auto"``: join the running cluster (``ray start --head``); ``"local"``: start
    one in this process; or ``"ray://host:10001"``."""
    name: str = "hoshikage"
    """Prefix of what this server deploys, so two servers can share a cluster."""
    pools: dict[str, PoolConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> ClusterConfig:
        for label, value in [("name", self.name), *(("pools", p) for p in self.pools)]:
            if not _NAME.match(value):
                raise ValueError(f"{label}: expected letters, digits, '.', '_' or '-'; "
                                 f"got {value!r}")
        for pool_name, pool in self.pools.items():
            if pool.pool is not None:
                raise ValueError(f"pools.{pool_name}.pool: a pool cannot join another pool")
        return self
