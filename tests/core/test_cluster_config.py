"""``[cluster]``, ``[defaults.cluster]``, ``[models.NAME.cluster]``: validated whichever
engine is installed; a model's own keys win over the defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hoshikage_core import ConfigError, Hoshikage
from hoshikage_core.config import validate_config


def config(tmp_path: Path, **tables: Any) -> dict[str, Any]:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"x")
    models = tables.pop("models", {"m": {}})
    return {"models": {n: {"path": str(model), **t} for n, t in models.items()}, **tables}


def test_a_models_keys_win_and_fixed_replaces_autoscaled(tmp_path: Path) -> None:
    loaded = validate_config(config(
        tmp_path, defaults={"cluster": {"min_replicas": 0, "max_replicas": 3, "num_gpus": 1}},
        models={"fixed": {"cluster": {"replicas": 2}}, "auto": {},
                "cpu": {"cluster": {"num_gpus": 0, "max_replicas": 5}}}))
    fixed, auto, cpu = (loaded.cluster_of(n) for n in ("fixed", "auto", "cpu"))
    assert (fixed.replicas, fixed.min_replicas, fixed.num_gpus) == (2, None, 1)
    assert fixed.plan().autoscaled is False and fixed.plan().minimum == 2
    assert auto.plan().autoscaled and (auto.plan().minimum, auto.plan().maximum) == (0, 3)
    assert auto.plan().initial == 0  # nothing runs until a request comes
    assert (cpu.num_gpus, cpu.min_replicas, cpu.max_replicas) == (0, 0, 5)
    assert loaded.cluster.engine == "local" and loaded.cluster.address == "auto"


@pytest.mark.parametrize(("tables", "message"), [
    ({"models": {"m": {"cluster": {"replicas": 2, "max_replicas": 3}}}},
     "models.m.cluster: expected either replicas"),
    ({"models": {"m": {"cluster": {"min_replicas": 4, "max_replicas": 3}}}},
     "min_replicas (4) is more than max_replicas (3)"),
    ({"models": {"m": {"cluster": {"num_gpus": -1}}}},
     "models.m.cluster.num_gpus"),
    ({"models": {"m": {"cluster": {"pool": "nope"}}}},
     "models.m.cluster.pool: expected a pool of [cluster.pools]; there is no pool 'nope'"),
    ({"cluster": {"pools": {"a b": {}}}}, "cluster: pools: expected letters"),
    ({"cluster": {"engin": "ray"}}, "cluster.engin"),
])
def test_mistakes_name_the_key(tmp_path: Path, tables: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Hoshikage(config(tmp_path, **tables))
    assert message in str(caught.value)


def test_an_engine_that_is_not_installed_stops_startup(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cluster.engine: .*'spark': no installed plugin"):
        Hoshikage(config(tmp_path, cluster={"engine": "spark"}))
