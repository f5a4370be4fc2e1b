"""Schemathesis over every endpoint of a real server: never a 5xx, every 4xx in its
dialect's error shape (OpenAI's, Anthropic's, Ollama's), every response as the
OpenAPI schema says.

The server runs two fast models (a toy backend and the tiny llama.cpp model) so a
few hundred generated requests take seconds, not minutes. Each endpoint is one test:
schemathesis' public strategies (valid and invalid requests) under a plain
Hypothesis ``@given``, without its pytest integration (which reaches into pytest's
private attributes and broke on pytest 9.2).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import REPO, RunningServer, start_server, stop_server

pytestmark = pytest.mark.real_model


@schemathesis.check
def dialect_error_shape(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx carries its dialect's error: OpenAI's {"error": {"message", "type",
    "param", "code"}}, Anthropic's {"type": "error", "error": {"type", "message"}} or
    Ollama's {"error": "..."}."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    path = case.operation.path
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
        assert body["error"]["message"], body
    elif path.startswith("/api/"):
        assert set(body) == {"error"} and isinstance(body["error"], str), body
        assert body["error"], body
    else:
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        assert body["error"]["message"], body


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    """Most generated requests name a real model, so success paths get fuzzed too."""
    # crc32, not hash(): str hashes change with every process, and so would the runs
    if isinstance(body, dict) and "model" in body and zlib.crc32(repr(sorted(body)).encode()) % 4:
        body["model"] = "poem" if len(repr(body)) % 2 else "tiny"
    return body


@schemathesis.hook
def map_path_parameters(ctx: Any, path_parameters: Any) -> Any:
    if path_parameters and "model_id" in path_parameters and len(repr(path_parameters)) % 3:
        path_parameters["model_id"] = "poem"
    return path_parameters


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory,
                tiny_gguf_path: Path) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("fuzz")
    book = folder / "book.txt"
    book.write_text("star shadow quiet light " * 50)
    config = folder / "fuzz.toml"
    config.write_text(f"""
[plugins]
dir = "{REPO / 'examples' / 'plugins'}"
[defaults]
max_tokens_limit = 24
max_n = 2
max_queue = 64
[models.poem]
backend = "words"
path = "{book}"
aliases = ["default"]
[models.tiny]
path = "{tiny_gguf_path}"
[models.tiny.options]
n_ctx = 128
""")
    server = start_server(config, folder / "fuzz.log")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def api_schema(fuzz_server: RunningServer) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


def operation_labels() -> list[str]:
    """Every operation of the API ("POST /v1/chat/completions", ...), read from the
    app's own OpenAPI document at collection time."""
    from hoshikage_core import Hoshikage, create_app

    app = create_app(Hoshikage({"models": {}}, load_entry_points=False))
    return [f"{method.upper()} {path}" for path, methods in app.openapi()["paths"].items()
            for method in methods]


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, dialect_error_shape]


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    served = {result.ok().label for result in api_schema.get_all_operations()}
    assert served == set(operation_labels()) and len(served) > 10


@pytest.mark.parametrize("label", operation_labels())
def test_every_endpoint(label: str, api_schema: Any, fuzz_server: RunningServer) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    requests = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    statuses: list[int] = []

    @given(case=requests)
    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        response = case.call(base_url=fuzz_server.url, timeout=120)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert statuses, "no request was sent"


def test_the_server_survived(fuzz_server: RunningServer) -> None:
    import httpx

    assert fuzz_server.process.poll() is None
    assert httpx.get(f"{fuzz_server.url}/health").json()["status"] == "ok"
    log = fuzz_server.log()
    assert "Traceback" not in log, log[-4000:]
