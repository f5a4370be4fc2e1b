"""Routing, failover, error mapping and streaming of the upstream backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from hoshikage_upstream.pool import UpstreamPool
from hoshikage_upstream.wire import error_from_response

from hoshikage_core import GenerationRequest, Hoshikage
from hoshikage_core.errors import HoshikageError, InvalidRequestError
from hoshikage_core.testing.server import RunningServer, start_server, stop_server

NO_EOS = {2: -100.0}  # the tiny model's </s>: its weights are random


def run(config: dict[str, Any], check: Any) -> Any:
    async def main() -> Any:
        async with Hoshikage(config) as hk:
            return await asyncio.wait_for(check(hk), 60)  # a hang guard, not a timing

    return asyncio.run(main())


def remote(*urls: str, **options: Any) -> dict[str, Any]:
    return {"models": {"remote": {"backend": "upstream",
                                  "options": {"base_urls": list(urls), "model": "tiny",
                                              **options}}}}


def test_pool_prefers_the_least_busy_then_the_healthy() -> None:
    now = [0.0]
    pool = UpstreamPool(["a", "b", "c"], unhealthy_for=10, clock=lambda: now[0])
    assert pool.order() == ["a", "b", "c"]
    with pool.lease("a"), pool.lease("a"), pool.lease("b"):
        assert pool.order() == ["c", "b", "a"]
    pool.failed("c")
    assert pool.order() == ["a", "b", "c"]  # c last, but still tried
    now[0] = 11
    pool.failed("a")
    assert pool.order() == ["b", "c", "a"]
    pool.succeeded("a")
    assert pool.order()[0] == "a"


@pytest.mark.real_model
def test_fails_over_from_a_dead_server(upstream_server: RunningServer, dead_url: str) -> None:
    async def check(hk: Hoshikage) -> Any:
        result = await hk.complete("Hello", model="remote", max_tokens=4, logit_bias=NO_EOS)
        handle = hk.models.get("remote").handle
        return result, handle.pool.order()

    result, order = run(remote(dead_url, f"{upstream_server.url}/v1"), check)
    assert result.usage.completion_tokens == 4  # exact usage, from the upstream
    assert order[-1] == dead_url  # the dead one is now tried last


def test_all_servers_dead_fails_fast_with_503(dead_url: str) -> None:
    other_dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there

    async def check(hk: Hoshikage) -> HoshikageError:
        with pytest.raises(HoshikageError) as info:
            await hk.complete("x", model="remote", max_tokens=1)
        return info.value

    error = run(remote(dead_url, other_dead), check)
    assert (error.status_code, error.code) == (503, "upstream_unavailable")
    assert "no upstream can serve it" in error.message and dead_url in error.message


def test_unroutable_server_times_out_instead_of_hanging() -> None:
    async def check(hk: Hoshikage) -> HoshikageError:
        with pytest.raises(HoshikageError) as info:
            await hk.complete("x", model="remote", max_tokens=1)
        return info.value

    # 10.255.255.1 swallows packets: only connect_timeout ends the attempt
    error = run(remote("http://10.255.255.1:8000/v1", connect_timeout="300ms"), check)
    assert (error.status_code, error.code) == (503, "upstream_unavailable")


@pytest.mark.real_model
def test_a_name_the_upstream_answers_to_but_does_not_list_loads(
        upstream_server: RunningServer) -> None:
    """'default' is an alias there: GET /models lists only the names, 'tiny' and 'ranker'."""
    listed = httpx.get(f"{upstream_server.url}/v1/models").json()["data"]
    assert [m["id"] for m in listed] == ["tiny", "ranker"]

    async def check(hk: Hoshikage) -> Any:
        return await hk.complete("Hello", model="remote", max_tokens=3, logit_bias=NO_EOS)

    config = remote(f"{upstream_server.url}/v1")
    config["models"]["remote"]["options"]["model"] = "default"
    assert run(config, check).usage.completion_tokens == 3


@pytest.mark.real_model
def test_an_unknown_upstream_model_loads_with_a_warning_and_requests_get_404(
        upstream_server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    async def check(hk: Hoshikage) -> tuple[Any, HoshikageError]:
        info = await hk.models.load("remote")
        with pytest.raises(HoshikageError) as error:
            await hk.complete("x", model="remote", max_tokens=1)
        return info, error.value

    config = remote(f"{upstream_server.url}/v1")
    config["models"]["remote"]["options"]["model"] = "no-such-model"
    caplog.set_level("WARNING", logger="hoshikage_upstream.upstream")
    info, error = run(config, check)
    assert info.state.value == "ready"  # the list is a hint: the request decides
    assert "does not list model 'no-such-model' (it lists: tiny, ranker)" in caplog.text
    assert (error.status_code, error.code) == (404, "model_not_found")
    assert "no-such-model" in error.message


@pytest.mark.real_model
def test_client_errors_keep_their_status_and_param(upstream_server: RunningServer) -> None:
    async def check(hk: Hoshikage) -> HoshikageError:
        with pytest.raises(InvalidRequestError) as info:
            await hk.complete("x", model="remote", suffix="y", max_tokens=1)
        return info.value

    error = run(remote(f"{upstream_server.url}/v1"), check)
    assert error.status_code == 400 and error.param == "suffix"


def test_error_mapping_table() -> None:
    body = json.dumps({"error": {"message": "too long", "type": "invalid_request_error",
                                 "param": "messages", "code": "context_length_exceeded"}})
    mapped = error_from_response(400, body, "u")
    assert (mapped.status_code, mapped.code, mapped.param) == (400, "context_length_exceeded",
                                                                "messages")
    assert error_from_response(503, "overloaded", "u").status_code == 503
    assert error_from_response(401, "{}", "u").status_code == 502
    assert "api_key" in error_from_response(401, "{}", "u").message
    assert error_from_response(500, "<html>boom</html>", "u").status_code == 502


@pytest.mark.real_model
def test_logprobs_and_embeddings_pass_through(upstream_server: RunningServer) -> None:
    async def check(hk: Hoshikage) -> Any:
        request = GenerationRequest(model="remote", prompt="Hello", max_tokens=3, logprobs=2,
                                    temperature=0, logit_bias=NO_EOS)
        result = await hk.run(request)
        embeddings = await hk.models.use("remote", lambda backend, handle: backend.embed(
            handle, ["Hello", "World"]))
        return result, embeddings

    result, embeddings = run(remote(f"{upstream_server.url}/v1"), check)
    assert len(result.logprobs) == 3 and all(len(t.top) == 2 for t in result.logprobs)
    direct = httpx.post(f"{upstream_server.url}/v1/embeddings", timeout=60, json={
        "model": "tiny", "input": ["Hello", "World"], "encoding_format": "float"}).json()
    assert len(embeddings.vectors) == 2
    assert embeddings.vectors[0] == pytest.approx(direct["data"][0]["embedding"], abs=1e-5)
    assert embeddings.prompt_tokens == direct["usage"]["prompt_tokens"]


@pytest.mark.real_model
def test_rerank_passes_through(upstream_server: RunningServer) -> None:
    documents = ["A cat is an animal.", "Cars are fast.", "Paris is in France."]

    async def check(hk: Hoshikage) -> Any:
        return await hk.rerank("remote", "What is a cat?", documents)

    relevance = run(remote(f"{upstream_server.url}/v1", model="ranker"), check)
    direct = httpx.post(f"{upstream_server.url}/v1/rerank", timeout=60, json={
        "model": "ranker", "query": "What is a cat?", "documents": documents}).json()
    assert relevance.scores == [pytest.approx(score, abs=1e-6) for score in
                                [r["relevance_score"] for r in
                                 sorted(direct["results"], key=lambda r: r["index"])]]
    assert relevance.prompt_tokens == direct["usage"]["prompt_tokens"] > 0


@pytest.mark.real_model
def test_a_proxy_server_streams_chat_from_another_hoshikage(
        upstream_server: RunningServer, tmp_path: Path) -> None:
    """The whole point: `hoshikage run` with an upstream model, used with the openai SDK."""
    config = tmp_path / "proxy.toml"
    config.write_text(f"""
[models.proxied]
backend = "upstream"
aliases = ["default"]
[models.proxied.options]
base_urls = ["{upstream_server.url}/v1"]
model = "tiny"
""")
    proxy = start_server(config, tmp_path / "proxy.log")
    try:
        client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="x", max_retries=0)
        direct = openai.OpenAI(base_url=f"{upstream_server.url}/v1", api_key="x", max_retries=0)
        ask = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 6,
               "temperature": 0, "logit_bias": {"2": -100}}
        stream = client.chat.completions.create(model="default", stream=True, **ask)
        chunks = list(stream)
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        expected = direct.chat.completions.create(model="tiny", **ask).choices[0].message.content
        assert streamed == expected
        assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 2
        assert chunks[-1].choices[0].finish_reason == "length"
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="default", messages=[
                {"role": "user", "content": "word " * 400}])
        assert info.value.code == "context_length_exceeded"
        status = httpx.get(f"{proxy.url}/admin/models").json()["data"][0]
        assert status["backend"] == "upstream" and status["memory_bytes"] == 0
    finally:
        assert stop_server(proxy) == 0


def test_a_dead_upstream_stays_a_503_while_backing_off(dead_url: str) -> None:
    async def check(hk: Hoshikage) -> list[HoshikageError]:
        errors = []
        for _ in range(2):  # the first load attempt, then a request inside the backoff
            with pytest.raises(HoshikageError) as info:
                await hk.complete("x", model="remote", max_tokens=1)
            errors.append(info.value)
        return errors

    first, again = run(remote(dead_url), check)
    assert (first.status_code, first.code) == (503, "upstream_unavailable")
    assert (again.status_code, again.code) == (503, "upstream_unavailable")
    assert "retrying in" in again.message and int(again.headers["Retry-After"]) >= 1


def test_installing_the_package_adds_the_backend() -> None:
    """No change to core: the entry point alone makes `upstream` a backend."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "hoshikage_core", "plugins", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    upstream = next(p for p in json.loads(out.stdout) if p["name"] == "upstream")
    assert upstream["source"] == "entry point" and upstream["distribution"] == "hoshikage-upstream"
    assert {"hoshikage_load", "hoshikage_generate", "hoshikage_unload"} <= set(upstream["hooks"])
    assert upstream["unavailable"] is None and upstream["error"] is None
