"""``hoshikage run`` joining a multi-node Ray cluster (``ray.cluster_utils.Cluster``:
a head without GPUs and three worker nodes with one fake GPU each): placement by GPU,
a node lost, and what ``hoshikage run`` deployed removed when it stops."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from ray_helpers import KEY, live_replicas, wait_for

from hoshikage_core.testing.server import RunningServer, free_port, start_server, stop_server

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import ray
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "num_gpus": 0})
    for _ in range(3):
        made.add_node(num_cpus=1, num_gpus=1)
    made.wait_for_nodes()
    ray.init(address=made.address, log_to_driver=False)  # to look at Serve from here
    yield made
    ray.shutdown()
    made.shutdown()


@pytest.fixture(scope="module")
def server(cluster: Any, tmp_path_factory: pytest.TempPathFactory,
           tiny_gguf_path: Path) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("ray-cluster")
    config = folder / "hoshikage.toml"
    config.write_text(f'''
[server]
api_keys = ["{KEY}"]
[cluster]
engine = "ray"
address = "{cluster.address}"
name = "cluster-test"
[models.gpu]
path = "{tiny_gguf_path}"
parallel = 2
[models.gpu.cluster]
replicas = 2
num_gpus = 1
num_cpus = 0.25
''')
    running = start_server(config, folder / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=120)


def gpu_nodes(cluster: Any) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes}


def placed(server: RunningServer) -> list[dict[str, Any]]:
    return wait_for("two replicas reporting", lambda: (  # loaded or not: the same prompt
        r if len(r := live_replicas(server.url, "gpu")) == 2 else None))  # goes to one


def test_one_replica_per_gpu_node(cluster: Any, client: openai.OpenAI,
                                  server: RunningServer) -> None:
    streamed = client.completions.create(model="gpu", prompt="Once", max_tokens=6,
                                         temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed)
    replicas = placed(server)
    nodes = [r["node_id"] for r in replicas]
    assert len(set(nodes)) == 2 and set(nodes) <= gpu_nodes(cluster)  # never the head


def test_a_lost_node_brings_the_model_back_on_another(
        cluster: Any, client: openai.OpenAI, server: RunningServer) -> None:
    before = placed(server)
    lost = next(n for n in cluster.worker_nodes if n.node_id == before[0]["node_id"])
    cluster.remove_node(lost, allow_graceful=False)
    for _ in range(4):  # requests go on meanwhile, on the replica that is left
        assert client.completions.create(model="gpu", prompt="Once", max_tokens=2).usage

    def moved() -> list[dict[str, Any]] | None:
        replicas = [r for r in live_replicas(server.url, "gpu")
                    if r["node_id"] != lost.node_id]
        return replicas if len({r["node_id"] for r in replicas}) == 2 else None

    after = wait_for("a replacement on the spare GPU node", moved, bound=180)
    assert {r["node_id"] for r in after} <= gpu_nodes(cluster)
    assert client.completions.create(model="gpu", prompt="Once", max_tokens=2).usage


def test_stopping_the_server_removes_what_it_deployed(cluster: Any,
                                                       server: RunningServer) -> None:
    from ray import serve

    assert "cluster-test-gpu" in serve.status().applications
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=120) == 0
    assert "cluster-test-gpu" not in serve.status().applications


def test_build_app_serves_the_api_through_rays_own_proxy(
        cluster: Any, tmp_path_factory: pytest.TempPathFactory, tiny_gguf_path: Path) -> None:
    """What ``serve run hoshikage_ray.app:build_app config=...`` deploys: the front end
    as a Serve deployment (Ray's HTTP proxy in front), the models beside it."""
    from hoshikage_ray import build_app
    from ray import serve

    config = tmp_path_factory.mktemp("build-app") / "hoshikage.toml"
    config.write_text(f'[server]\napi_keys = ["{KEY}"]\n[cluster]\nname = "built"\n'
                      f'[models.tiny]\npath = "{tiny_gguf_path}"\n'
                      '[models.tiny.cluster]\nreplicas = 1\nnum_cpus = 0.25\n')
    port = free_port()
    serve.shutdown()  # Serve's proxy settings are the cluster's: start it with a proxy
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_app({"config": str(config)}), name="built", route_prefix="/")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY,
                               max_retries=0, timeout=120)
        assert [m.id for m in client.models.list()] == ["tiny"]
        streamed = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=5,
            stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        with pytest.raises(openai.AuthenticationError):  # keys hold behind Ray's proxy too
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-nope-0000000",
                          max_retries=0).models.list()
    finally:
        serve.delete("built")
