"""JSON logs with request ids, and /metrics, from a real `hoshikage run`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.real_model


def test_json_logs_metrics_and_keys(tmp_path: Path, tiny_gguf_path: Path) -> None:
    config = tmp_path / "obs.toml"
    config.write_text(f"""
[server]
api_keys = ["sk-observer-0001"]
log_format = "json"
[models.tiny]
path = "{tiny_gguf_path}"
[models.tiny.options]
n_ctx = 128
""")
    server = start_server(config, tmp_path / "obs.log")
    auth = {"Authorization": "Bearer sk-observer-0001"}
    try:
        assert httpx.get(f"{server.url}/health").status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        reply = httpx.post(f"{server.url}/v1/completions", headers={**auth,
                           "X-Request-Id": "soak-7"}, timeout=60, json={
                           "model": "tiny", "prompt": "private words", "max_tokens": 3,
                           "stream": True, "logit_bias": {"2": -100}})
        assert reply.headers["x-request-id"] == "soak-7"
        metrics = httpx.get(f"{server.url}/metrics", headers=auth).text
        assert 'hoshikage_generated_tokens_total{model="tiny"} 3.0' in metrics
        assert 'hoshikage_time_to_first_token_seconds_count{model="tiny"} 1.0' in metrics
        assert 'hoshikage_model_loaded{model="tiny"} 1.0' in metrics
    finally:
        assert stop_server(server) == 0
    lines = [line for line in server.log().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "hoshikage.access"
              and e.get("path") == "/v1/completions"]
    assert access and access[0]["request_id"] == "soak-7" and access[0]["status"] == 200
    assert access[0]["model"] == "tiny"
    assert any(e["logger"].startswith("hoshikage_core") and e["request_id"] == "soak-7"
               for e in entries)  # the model load happened inside that request
    assert "private words" not in server.log()
