"""From a config to Serve deployments (no Ray needed): units, their options, and the
config each replica's own Hoshikage runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hoshikage_ray.units import replica_config, units_of

from hoshikage_core import ConfigError
from hoshikage_core.config import validate_config


def loaded(tmp_path: Path, models: dict[str, Any], **tables: Any) -> Any:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"x")
    return validate_config({"models": {n: {"path": str(path), **t} for n, t in models.items()},
                            **tables})


def test_a_unit_per_model_and_per_pool(tmp_path: Path) -> None:
    config = loaded(tmp_path, {
        "big": {"parallel": 4, "max_queue": 8, "cluster": {"replicas": 2, "num_gpus": 1}},
        "draft": {}, "target": {"draft_model": "draft"},
        "s1": {"cluster": {"pool": "small"}}, "s2": {"cluster": {"pool": "small"},
                                                       "parallel": 2}},
        cluster={"pools": {"small": {"max_models": 1, "num_cpus": 0.5}}})
    units = {u.name: u for u in units_of(config)}
    assert set(units) == {"big", "draft", "target", "pool-small"}
    big = units["big"].serve_options(shutdown_timeout=30)
    assert big["num_replicas"] == 2 and "autoscaling_config" not in big
    assert big["ray_actor_options"] == {"num_cpus": 1.0, "num_gpus": 1.0}
    assert big["max_ongoing_requests"] == 4 + 8 + 1  # the replica refuses the one beyond
    pool = units["pool-small"]
    assert pool.models == ("s1", "s2") and pool.pooled and pool.max_models == 1
    assert pool.serve_options(30)["ray_actor_options"]["num_cpus"] == 0.5
    # each replica's own Hoshikage: its models (with their drafts), no cluster, no server
    target = replica_config(config, units["target"])
    assert set(target["models"]) == {"target", "draft"} and "cluster" not in target
    assert replica_config(config, pool)["defaults"]["max_loaded_models"] == 1
    validate_config(target)  # a valid config of its own


def test_scale_to_zero_replaces_the_idle_timer(tmp_path: Path) -> None:
    config = loaded(tmp_path, {"z": {"idle_timeout": "45s",
                                     "cluster": {"min_replicas": 0, "max_replicas": 3}}})
    (unit,) = units_of(config)
    scaling = unit.serve_options(30)["autoscaling_config"]
    assert (scaling["min_replicas"], scaling["max_replicas"], scaling["initial_replicas"]) \
        == (0, 3, 0)
    assert scaling["downscale_delay_s"] == scaling["downscale_to_zero_delay_s"] == 45
    assert replica_config(config, unit)["models"]["z"]["idle_timeout"] == math.inf


def test_a_pool_named_like_a_model_is_refused(tmp_path: Path) -> None:
    config = loaded(tmp_path, {"pool-x": {}, "m": {"cluster": {"pool": "x"}}},
                    cluster={"pools": {"x": {}}})
    with pytest.raises(ConfigError, match="cluster.pools.x: its deployment would be named"):
        units_of(config)
