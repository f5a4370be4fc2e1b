"""``hoshikage run`` on a Ray head it starts itself (``address = "local"``): models with
replicas, a pool, scale to zero, answering through the official SDKs."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from ray_helpers import KEY, admin, live_replicas, wait_for

from hoshikage_core.testing.server import (
    RunningServer,
    hoshikage_command,
    start_server,
    stop_server,
)
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           bundled_model_path: Path) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("ray-local")
    one, two = (write_tiny_gguf(folder / f"tiny-{i}.gguf", seed=i) for i in (1, 2))
    config = folder / "hoshikage.toml"
    config.write_text(f'''
[server]
api_keys = ["{KEY}"]
[cluster]
engine = "ray"
address = "local"
[cluster.pools.small]
replicas = 1
max_models = 1
num_cpus = 0.1
[defaults.cluster]
num_cpus = 0.1
[models.alpha]
path = "{one}"
parallel = 2
cluster = {{ replicas = 2 }}
[models.beta]
path = "{two}"
aliases = ["b"]
cluster = {{ replicas = 2 }}
[models.smol]
path = "{bundled_model_path}"
parallel = 1
max_queue = 1
options = {{ n_ctx = 2048, speculation = "off", prompt_cache = 0 }}
[models.zero]
path = "{one}"
idle_timeout = "2s"
cluster = {{ min_replicas = 0, max_replicas = 1 }}
[models.needs-gpu]
path = "{one}"
cluster = {{ num_gpus = 1 }}
[models.pool-one]
path = "{one}"
cluster = {{ pool = "small" }}
[models.pool-two]
path = "{two}"
cluster = {{ pool = "small" }}
''')
    # Ray's "replica not scheduled yet" status after 2 s instead of 30 (its controller
    # runs in the cluster this server starts, with this environment)
    running = start_server(config, folder / "server.log",
                           env={"SERVE_SLOW_STARTUP_WARNING_S": "2"})
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=120)


def ask(client: openai.OpenAI, model: str, max_tokens: int = 6) -> str:
    answer = client.completions.create(model=model, prompt="Once", max_tokens=max_tokens,
                                       temperature=0)
    assert answer.usage is not None and answer.usage.completion_tokens == max_tokens
    return answer.choices[0].text


def test_two_models_with_two_replicas_each_answer_whole_and_streamed(
        client: openai.OpenAI, server: RunningServer) -> None:
    for model in ("alpha", "b"):
        whole = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=8,
            temperature=0)
        assert whole.model in ("alpha", "beta") and whole.usage is not None
        assert whole.usage.completion_tokens == 8 and whole.choices[0].finish_reason == "length"
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=8,
            temperature=0, stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == whole.choices[0].message.content  # greedy: either replica, same text
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    for model in ("alpha", "beta"):
        replicas = wait_for(f"two ready replicas of {model}", lambda m=model: [
            r for r in live_replicas(server.url, m) if r["state"] == "ready"] if len(
            live_replicas(server.url, m)) == 2 else None)
        assert len({r["id"] for r in replicas}) == len({r["pid"] for r in replicas}) >= 1
        assert all(r["node_id"] for r in replicas)


def test_a_conversation_goes_back_to_the_replica_that_has_it(
        client: openai.OpenAI, server: RunningServer) -> None:
    """Six conversations on alpha's two replicas: each second turn reuses its first turn
    from the cache of the replica that answered it. With Ray's own choice, each would
    have an even chance of the other replica, and all six a 1-in-64 one."""
    wait_for("two replicas of alpha", lambda: len(live_replicas(server.url, "alpha")) == 2)
    firsts = [f"Conversation {i}: " + " ".join(f"w{i}x{j}" for j in range(40))
              for i in range(6)]
    answers = [client.completions.create(model="alpha", prompt=p, max_tokens=4,
                                         temperature=0) for p in firsts]
    for first, answer in zip(firsts, answers):
        assert answer.usage is not None
        second = client.completions.create(
            model="alpha", prompt=first + answer.choices[0].text + " And then?",
            max_tokens=4, temperature=0)
        assert second.usage is not None and second.usage.prompt_tokens_details is not None
        assert second.usage.prompt_tokens_details.cached_tokens >= \
            answer.usage.prompt_tokens - 1


def test_the_front_end_enforces_keys(server: RunningServer) -> None:
    refused = httpx.post(f"{server.url}/v1/completions",
                         json={"model": "alpha", "prompt": "x", "max_tokens": 2})
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    anyone = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-wrong-key-000",
                           max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anyone.models.list()


def test_a_client_error_in_a_replica_comes_back_in_the_dialects_shape(
        client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="alpha", prompt="x", max_tokens=100_000)
    assert caught.value.code == "invalid_value" and caught.value.param == "max_tokens"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="nothing-by-that-name", prompt="x", max_tokens=2)


def test_ps_shows_each_models_replicas(server: RunningServer) -> None:
    ask(openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0), "alpha")
    shown = subprocess.run(hoshikage_command("ps", "--url", server.url, "--api-key", KEY),
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    for replica in admin(server.url, "alpha")["replicas"]:
        assert str(replica["pid"]) in shown.stdout


def test_an_admin_unload_reaches_every_replica(client: openai.OpenAI,
                                               server: RunningServer) -> None:
    ask(client, "alpha")
    answer = httpx.post(f"{server.url}/admin/models/alpha/unload",
                        headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
    assert answer.status_code == 200 and answer.json()["state"] == "unloaded"
    replicas = admin(server.url, "alpha")["replicas"]
    assert len(replicas) == 2 and {r["state"] for r in replicas} == {"unloaded"}
    assert ask(client, "alpha")  # and loads again on the next request


def test_a_killed_replica_is_replaced_and_requests_go_on(
        client: openai.OpenAI, server: RunningServer) -> None:
    before = wait_for("two replicas of beta", lambda: (
        r if len(r := live_replicas(server.url, "beta")) == 2 else None))
    victim = before[0]
    os.kill(victim["pid"], signal.SIGKILL)
    for _ in range(6):  # every request succeeds (Ray routes to the living replica)
        ask(client, "beta")
    after = wait_for("a replacement replica", lambda: (
        r if len(r := live_replicas(server.url, "beta")) == 2
        and victim["id"] not in {x["id"] for x in r} else None))
    assert victim["pid"] not in {r["pid"] for r in after}
    ask(client, "beta")


def test_a_stream_on_a_replica_that_dies_ends_with_a_clear_error(
        client: openai.OpenAI, server: RunningServer) -> None:
    stream = client.completions.create(model="smol", prompt="Count: one, two,",
                                       max_tokens=1900, temperature=0, stream=True)
    chunks = iter(stream)
    next(chunks)
    (replica,) = wait_for("smol's replica generating", lambda: [
        r for r in admin(server.url, "smol")["replicas"] if r["running"] == 1], bound=30)
    os.kill(replica["pid"], signal.SIGKILL)
    with pytest.raises(openai.APIError) as caught:
        for _ in chunks:
            pass
    assert "replica" in caught.value.message and "Retry" in caught.value.message
    assert ask(client, "smol", 4)  # waits for the replacement Ray starts
    wait_for("the dead replica to leave the status (it stopped reporting)", lambda: replica[
        "id"] not in {r["id"] for r in admin(server.url, "smol")["replicas"]}, bound=30)


def test_tokenize_runs_on_a_replica(server: RunningServer) -> None:
    answer = httpx.post(f"{server.url}/tokenize", json={"model": "alpha", "content": "hi"},
                        headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert answer.status_code == 200 and len(answer.json()["tokens"]) >= 2


def test_a_disconnected_stream_stops_in_its_replica(
        client: openai.OpenAI, server: RunningServer) -> None:
    stream = client.completions.create(model="smol", prompt="Count: one, two,",
                                       max_tokens=1900, temperature=0, stream=True)
    for _, _chunk in zip(range(3), stream):
        pass
    wait_for("the stream to run in its replica (the board is read twice a second)",
             lambda: admin(server.url, "smol")["running"] == 1, bound=30)
    stream.close()
    # 1900 tokens take SmolLM2 well over half a minute here; a cancelled one stops at once
    wait_for("the replica to stop generating", lambda: admin(server.url, "smol")[
        "running"] == 0, bound=20)
    assert ask(client, "smol", 4)


def test_every_replica_full_is_a_503_and_others_are_served(
        client: openai.OpenAI, server: RunningServer) -> None:
    def open_stream() -> Any:  # returns when its generation starts
        return client.completions.create(model="smol", prompt="Count: one, two,",
                                         max_tokens=1900, temperature=0, stream=True)

    # room for 2: 1 running + 1 in the replica's queue (max_queue)
    with ThreadPoolExecutor(6) as pool:
        opened = [pool.submit(open_stream) for _ in range(6)]
        try:
            wait_for("one request refused", lambda: any(
                f.done() and f.exception() is not None for f in opened), bound=60)
            wait_for("the rest running or waiting", lambda: (
                (m := admin(server.url, "smol"))["running"] + m["queued"]) >= 2, bound=60)
            assert ask(client, "alpha")  # other models do not notice
        finally:
            outcomes = []
            for future in as_completed(opened, timeout=300):  # each closed as it starts
                if future.exception() is None:
                    future.result().close()
                outcomes.append(future.exception())
    refused = [e for e in outcomes if e is not None]
    assert len(refused) == 4
    for error in refused:
        assert isinstance(error, openai.APIStatusError) and error.status_code == 503
        assert error.code == "queue_full" and error.response.headers["retry-after"]
    wait_for("smol to be free", lambda: admin(server.url, "smol")["running"] == 0, bound=30)


def test_scale_to_zero_and_back(client: openai.OpenAI, server: RunningServer) -> None:
    assert ask(client, "zero")  # waits for a replica to start from none
    wait_for("zero's replica to report", lambda: len(admin(server.url, "zero")["replicas"])
             == 1, bound=30)  # the front end reads the board every POLL_SECONDS
    wait_for("zero to scale to zero", lambda: admin(server.url, "zero")["replicas"] == [],
             bound=90)
    assert admin(server.url, "zero")["state"] == "unloaded"
    assert ask(client, "zero")  # and back


def test_pooled_models_share_a_replica(client: openai.OpenAI, server: RunningServer) -> None:
    first = ask(client, "pool-one")
    assert ask(client, "pool-two")
    assert ask(client, "pool-one") == first  # reloaded after the other took its place
    replicas = admin(server.url, "pool-two")["replicas"]
    assert len(replicas) == 1 and len(replicas[0]["models"]) <= 1  # max_models = 1


def test_a_replica_ray_cannot_place_is_a_503_not_a_hang(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:  # this machine has no GPU
        client.completions.create(model="needs-gpu", prompt="x", max_tokens=2)
    assert caught.value.status_code == 503
    assert "cannot place" in caught.value.message and "num_gpus" in caught.value.message
