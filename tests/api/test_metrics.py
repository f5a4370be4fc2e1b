"""/metrics: Prometheus series, per instance, read without side effects."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from hoshikage_core import Hoshikage, create_app
from tests.fakes import EchoBackend


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_series_after_some_traffic(tmp_path: Path) -> None:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x" * 100)
    config = {"models": {"a": {"backend": "echo", "path": str(model_file)},
                         "b": {"backend": "echo", "path": str(model_file)}}}
    async with Hoshikage(config, plugins={"echo": EchoBackend()}) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            before = samples((await client.get("/metrics")).text)
            assert value(before, "hoshikage_model_loaded", model="a") == 0
            await client.post("/v1/completions", json={"model": "a", "prompt": "one two three"})
            await client.post("/v1/chat/completions", json={
                "model": "a", "stream": True, "messages": [{"role": "user", "content": "x y"}]})
            await client.post("/v1/completions", json={"model": "nope", "prompt": "x"})
            response = await client.get("/metrics")
            assert response.headers["content-type"].startswith("text/plain")
            text = response.text
            assert all(line.startswith(("#", "hoshikage_")) for line in text.splitlines() if line)
            after = samples(text)
    assert value(after, "hoshikage_requests_total", model="a", endpoint="/v1/completions",
                 status="200") == 1
    assert value(after, "hoshikage_requests_total", model="a",
                 endpoint="/v1/chat/completions", status="200") == 1
    assert value(after, "hoshikage_requests_total", model="", endpoint="/v1/completions",
                 status="404") == 1
    assert value(after, "hoshikage_prompt_tokens_total", model="a") == 3 + 2
    assert value(after, "hoshikage_generated_tokens_total", model="a") == 3 + 2
    assert value(after, "hoshikage_time_to_first_token_seconds_count", model="a") == 2
    assert value(after, "hoshikage_inter_token_latency_seconds_count", model="a") == 2 + 1
    assert value(after, "hoshikage_model_loads_total", model="a", result="ok") == 1
    assert value(after, "hoshikage_model_load_duration_seconds_count", model="a") == 1
    assert value(after, "hoshikage_model_loaded", model="a") == 1
    assert value(after, "hoshikage_model_loaded", model="b") == 0  # scraping loads nothing
    assert value(after, "hoshikage_model_memory_bytes", model="a") == 100
    assert value(after, "hoshikage_running_requests", model="a") == 0
    assert value(after, "hoshikage_queue_depth", model="a") == 0
    # closing unloaded "a": an unload by reason shutdown
    assert value(samples(hk.metrics.exposition().decode()), "hoshikage_model_unloads_total",
                 model="a", reason="shutdown") == 1


async def test_two_instances_keep_their_own_series(tmp_path: Path) -> None:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    config = {"models": {"a": {"backend": "echo", "path": str(model_file)}}}
    async with Hoshikage(config, plugins={"echo": EchoBackend()}) as one, \
            Hoshikage(config, plugins={"echo": EchoBackend()}) as two:
        await one.complete("x y", model="a")
        assert value(samples(one.metrics.exposition().decode()),
                     "hoshikage_generated_tokens_total", model="a") == 2
        assert value(samples(two.metrics.exposition().decode()),
                     "hoshikage_generated_tokens_total", model="a") == 0
