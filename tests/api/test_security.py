"""Keys, binds, CORS, body limits, per-model limits, request ids, prompt privacy."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hoshikage_core import ConfigError, Hoshikage, create_app
from hoshikage_core.config import validate_config
from hoshikage_core.ops.security import check_bind, key_matches
from tests.api.test_api_errors import assert_openai_error
from tests.fakes import EchoBackend


def cfg(tmp_path: Path, server: dict[str, Any] | None = None,
        **model: Any) -> dict[str, Any]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    return {"server": server or {},
            "models": {"echo": {"backend": "echo", "path": str(model_file), **model}}}


async def client_for(hk: Hoshikage) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hk)),
                             base_url="http://t")


@pytest.fixture
async def open_server(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with Hoshikage(cfg(tmp_path, max_tokens_limit=5, max_n=2),
                         plugins={"echo": EchoBackend()}) as hk:
        async with await client_for(hk) as client:
            yield client


async def test_keys_from_config_file_and_environment(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("# operators\nsk-from-file-1234  # alice\n\nsk-from-file-5678\n")
    monkeypatch.setenv("HOSHIKAGE_API_KEYS", "sk-from-env-0001, sk-from-env-0002")
    config = cfg(tmp_path, {"api_keys": ["sk-from-config-1"], "api_keys_file": str(keys_file)})
    async with Hoshikage(config, plugins={"echo": EchoBackend()}) as hk:
        assert set(hk.api_keys) == {"sk-from-config-1", "sk-from-file-1234",
                                    "sk-from-file-5678", "sk-from-env-0001", "sk-from-env-0002"}
        async with await client_for(hk) as client:
            assert (await client.get("/health")).status_code == 200  # always public
            for path in ("/v1/models", "/metrics", "/admin/models"):
                error = assert_openai_error(await client.get(path), 401, code="invalid_api_key")
                assert error["type"] == "authentication_error"
            for key in hk.api_keys:
                ok = await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
                assert ok.status_code == 200


PUBLIC = {"/health", "/", "/ui/{name}"}  # liveness, and the page's static files (no data)


async def test_with_keys_every_other_route_wants_one(tmp_path: Path) -> None:
    """Every route of the schema, and the schema and its /docs pages themselves."""
    async with Hoshikage(cfg(tmp_path, {"api_keys": ["sk-route-walk-1"]}),
                         plugins={"echo": EchoBackend()}) as hk:
        app = create_app(hk)
        routes = [(method.upper(), path) for path, item in app.openapi()["paths"].items()
                  for method in item]
        routes += [("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc"),
                   ("GET", "/"), ("GET", "/ui/{name}")]  # outside the schema
        assert {("POST", "/v1/chat/completions"), ("GET", "/metrics"),
                ("POST", "/admin/models/{model_id}/load")} <= set(routes)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for method, path in routes:
                url = re.sub(r"\{(\w+)(:path)?\}", "app.js" if path == "/ui/{name}" else "echo",
                             path)
                response = await client.request(method, url, json={} if method == "POST"
                                                else None)
                if path in PUBLIC:
                    assert response.status_code == 200, (method, path)
                elif path.startswith("/v1/messages"):  # each dialect in its own shape
                    assert response.status_code == 401, (method, path)
                    assert response.json()["error"]["type"] == "authentication_error"
                elif path.startswith("/api/"):
                    assert response.status_code == 401, (method, path)
                    assert isinstance(response.json()["error"], str)
                else:
                    assert_openai_error(response, 401, code="invalid_api_key")
            keyed = await client.get("/openapi.json",
                                     headers={"Authorization": "Bearer sk-route-walk-1"})
            assert keyed.status_code == 200 and "/v1/chat/completions" in keyed.json()["paths"]
            anthropic_style = await client.get("/openapi.json",  # Claude Code sends x-api-key
                                               headers={"x-api-key": "sk-route-walk-1"})
            assert anthropic_style.status_code == 200
            wrong = await client.get("/v1/models", headers={"x-api-key": "sk-wrong-key-1"})
            assert_openai_error(wrong, 401, code="invalid_api_key")


def test_short_keys_and_missing_key_files_are_config_errors(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setenv("HOSHIKAGE_API_KEYS", "short")
    with pytest.raises(ConfigError, match="at least 8 characters"):
        Hoshikage(cfg(tmp_path), plugins={"echo": EchoBackend()})
    with pytest.raises(ConfigError, match="api_keys_file"):
        validate_config({"server": {"api_keys_file": str(tmp_path / "nope.txt")}})


def test_key_comparison() -> None:
    assert key_matches("sk-right-key", ["sk-other-key", "sk-right-key"])
    assert not key_matches("sk-right-ke", ["sk-right-key"])
    assert not key_matches("", ["sk-right-key"])


def test_public_binds_need_keys_or_an_explicit_yes() -> None:
    public = validate_config({"server": {"host": "0.0.0.0"}}).server
    with pytest.raises(ConfigError, match="allow_insecure_public_bind"):
        check_bind(public, [])
    check_bind(public, ["sk-some-key-123"])
    check_bind(validate_config({"server": {"host": "0.0.0.0",
                                           "allow_insecure_public_bind": True}}).server, [])
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(validate_config({"server": {"host": host}}).server, [])


async def test_cors_is_off_by_default_and_an_allow_list_when_set(tmp_path: Path) -> None:
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    async with Hoshikage(cfg(tmp_path), plugins={"echo": EchoBackend()}) as hk:
        async with await client_for(hk) as client:
            response = await client.get("/v1/models", headers={"Origin": preflight["Origin"]})
            assert "access-control-allow-origin" not in response.headers
    config = cfg(tmp_path, {"cors_origins": ["https://app.example.com"]})
    async with Hoshikage(config, plugins={"echo": EchoBackend()}) as hk:
        async with await client_for(hk) as client:
            allowed = await client.options("/v1/chat/completions", headers=preflight)
            assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
            other = await client.options("/v1/chat/completions", headers={
                **preflight, "Origin": "https://evil.example.com"})
            assert "access-control-allow-origin" not in other.headers
    with pytest.raises(ConfigError, match="cors_origins"):
        validate_config({"server": {"cors_origins": ["app.example.com"]}})


async def test_bodies_over_the_limit_get_413(tmp_path: Path) -> None:
    async with Hoshikage(cfg(tmp_path, {"max_body_size": "1KiB"}),
                         plugins={"echo": EchoBackend()}) as hk:
        async with await client_for(hk) as client:
            big = {"model": "echo", "prompt": "x" * 5000}
            assert_openai_error(await client.post("/v1/completions", json=big), 413,
                                code="request_too_large")

            async def chunked() -> AsyncIterator[bytes]:  # no Content-Length
                yield b'{"model": "echo", "prompt": "'
                for _ in range(10):
                    yield b"y" * 500
                yield b'"}'

            response = await client.post("/v1/completions", content=chunked(),
                                         headers={"content-type": "application/json"})
            assert_openai_error(response, 413, code="request_too_large")
            small = await client.post("/v1/completions", json={"model": "echo", "prompt": "ok"})
            assert small.status_code == 200


async def test_per_model_limits(open_server: httpx.AsyncClient) -> None:
    error = assert_openai_error(await open_server.post("/v1/completions", json={
        "model": "echo", "prompt": "a b", "max_tokens": 6}), 400)
    assert error["param"] == "max_tokens" and "max_tokens_limit" in error["message"]
    error = assert_openai_error(await open_server.post("/v1/chat/completions", json={
        "model": "echo", "n": 3, "messages": [{"role": "user", "content": "x"}]}), 400)
    assert error["param"] == "n" and "max_n" in error["message"]
    capped = (await open_server.post("/v1/completions", json={
        "model": "echo", "prompt": "a b c d e f g h", "max_tokens": None})).json()
    assert capped["usage"]["completion_tokens"] == 5  # the limit is also the default


async def test_request_ids(open_server: httpx.AsyncClient) -> None:
    mine = await open_server.get("/health", headers={"X-Request-Id": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    made = await open_server.get("/v1/models")
    assert len(made.headers["x-request-id"]) == 32
    weird = await open_server.get("/health", headers={"X-Request-Id": "bad id\\n" * 20})
    assert weird.headers["x-request-id"] != "bad id"
    error = await open_server.get("/v1/nowhere")
    assert error.headers["x-request-id"]


async def test_prompts_stay_out_of_logs_unless_enabled(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    secret = "my-secret-diary-entry"
    for enabled in (False, True):
        caplog.clear()
        async with Hoshikage(cfg(tmp_path, {"log_prompts": enabled}),
                             plugins={"echo": EchoBackend()}) as hk:
            async with await client_for(hk) as client:
                with caplog.at_level(logging.DEBUG):
                    for stream in (False, True):
                        await client.post("/v1/chat/completions", json={
                            "model": "echo", "stream": stream,
                            "messages": [{"role": "user", "content": secret}]})
        logged = caplog.text.count(secret)
        assert (logged > 0) is enabled, caplog.text
