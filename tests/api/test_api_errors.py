"""HTTP behaviour over a scripted backend: every failure in the OpenAI error shape.

Uses the official ``openai`` SDK and raw httpx against the ASGI app in-process;
the same paths against a real server and model are in tests/e2e.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest

from hoshikage_core import Hoshikage, create_app
from tests.fakes import EchoBackend


def assert_openai_error(response: httpx.Response, status: int, *, code: object = ...) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    if code is not ...:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.fixture
def echo() -> EchoBackend:
    return EchoBackend()


@pytest.fixture
async def hoshikage(tmp_path: Path, echo: EchoBackend) -> AsyncIterator[Hoshikage]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    cfg = {"models": {
        "echo": {"backend": "echo", "path": str(model_file), "aliases": ["default"]},
        "broken": {"backend": "echo", "path": str(model_file)},
    }}
    async with Hoshikage(cfg, plugins={"echo": echo}) as hk:
        yield hk


@pytest.fixture
async def http(hoshikage: Hoshikage) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(hoshikage))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def sdk(http: httpx.AsyncClient) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url="http://test/v1", api_key="x", http_client=http,
                              max_retries=0)


CHAT = {"model": "default", "messages": [{"role": "user", "content": "hello there world"}]}


async def test_chat_roundtrip_through_the_sdk(sdk: openai.AsyncOpenAI) -> None:
    reply = await sdk.chat.completions.create(model="default", messages=CHAT["messages"])
    assert reply.model == "echo"
    assert reply.choices[0].message.content == "hello there world"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens == 6


async def test_stream_through_the_sdk_with_usage(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="echo", messages=CHAT["messages"], stream=True,
        stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "hello there world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


async def test_unknown_model_is_404_model_not_found(http: httpx.AsyncClient,
                                                    sdk: openai.AsyncOpenAI) -> None:
    error = assert_openai_error(
        await http.post("/v1/chat/completions", json={**CHAT, "model": "gpt-4o"}), 404,
        code="model_not_found")
    assert error["param"] == "model" and "gpt-4o" in error["message"]
    with pytest.raises(openai.NotFoundError):
        await sdk.completions.create(model="gpt-4o", prompt="x")


async def test_validation_errors_are_400_naming_the_field(http: httpx.AsyncClient) -> None:
    cases = [
        ({**CHAT, "temperature": 3}, "temperature"),
        ({**CHAT, "top_p": -1}, "top_p"),
        ({**CHAT, "max_tokens": 0}, "max_tokens"),
        ({**CHAT, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**CHAT, "messages": []}, "messages"),
        ({**CHAT, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": CHAT["messages"]}, "model"),
        ({**CHAT, "n": 0}, "n"),
    ]
    for body, param in cases:
        error = assert_openai_error(await http.post("/v1/chat/completions", json=body), 400)
        assert error["param"] == param, (body, error)
        assert error["type"] == "invalid_request_error"


async def test_a_tool_choice_the_tools_cannot_meet_is_400(http: httpx.AsyncClient) -> None:
    weather = {"type": "function", "function": {"name": "get_weather"}}
    for stream in (False, True):
        for body, wording in [
            ({"tools": [weather], "tool_choice": {"type": "function",
                                                  "function": {"name": "launch"}}},
             "names the function 'launch', which is not in tools"),
            ({"tool_choice": "required"}, "'required' needs tools"),
        ]:
            response = await http.post("/v1/chat/completions",
                                       json={**CHAT, **body, "stream": stream})
            error = assert_openai_error(response, 400)
            assert error["param"] == "tool_choice" and wording in error["message"], error


async def test_malformed_json_is_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/chat/completions", content=b"{not json",
                               headers={"content-type": "application/json"})
    error = assert_openai_error(response, 400, code="invalid_json")
    assert "JSON" in error["message"]


async def test_non_text_content_part_is_refused(http: httpx.AsyncClient) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:,"}}]}]}
    error = assert_openai_error(await http.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == "messages[0].content[1].type"


async def test_text_parts_are_joined(http: httpx.AsyncClient) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "one "}, {"type": "text", "text": "two"}]}]}
    response = await http.post("/v1/chat/completions", json=body)
    assert response.json()["choices"][0]["message"]["content"] == "one two"


async def test_unknown_fields_are_ignored(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/chat/completions", json={
        **CHAT, "parallel_tool_calls": False, "metadata": {"a": 1}, "store": False})
    assert response.status_code == 200


async def test_unknown_route_and_method(http: httpx.AsyncClient) -> None:
    assert_openai_error(await http.get("/v1/nothing"), 404)
    assert_openai_error(await http.get("/v1/chat/completions"), 405)


async def test_load_failure_is_an_openai_error_and_others_keep_serving(
    http: httpx.AsyncClient, echo: EchoBackend
) -> None:
    echo.fail_load.add("broken")
    for stream in (False, True):
        response = await http.post("/v1/chat/completions",
                                   json={**CHAT, "model": "broken", "stream": stream})
        error = assert_openai_error(response, 500, code="model_load_failed")
        assert "corrupt" in error["message"]
    assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200


async def test_context_too_long_is_400_before_the_stream_starts(http: httpx.AsyncClient) -> None:
    body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": "w " * 80}]}
    assert_openai_error(await http.post("/v1/chat/completions", json=body), 400,
                        code="context_length_exceeded")


async def test_failure_mid_stream_ends_with_error_event_and_done(
    http: httpx.AsyncClient, echo: EchoBackend
) -> None:
    echo.fail_after = 2
    response = await http.post("/v1/completions",
                               json={"model": "echo", "prompt": "a b c d", "stream": True})
    assert response.status_code == 200
    events = [line[len("data: "):] for line in response.text.splitlines()
              if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert '"error"' in events[-2] and "server_error" in events[-2]


async def test_n_choices_and_its_limits(http: httpx.AsyncClient) -> None:
    reply = (await http.post("/v1/chat/completions", json={**CHAT, "n": 2})).json()
    assert [c["index"] for c in reply["choices"]] == [0, 1]
    assert reply["usage"] == {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9,
                              "prompt_tokens_details": {"cached_tokens": 0},
                              "completion_tokens_details": {
                                  "reasoning_tokens": 0, "accepted_prediction_tokens": 0,
                                  "rejected_prediction_tokens": 0}}
    error = assert_openai_error(await http.post("/v1/chat/completions", json={**CHAT, "n": 17}),
                                400)
    assert error["param"] == "n"


async def test_completions_echo_and_several_prompts(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/completions",
                               json={"model": "echo", "prompt": ["x y"], "echo": True})
    assert response.json()["choices"][0]["text"] == "x yx y"
    several = (await http.post("/v1/completions", json={
        "model": "echo", "prompt": ["a", "b c"], "n": 2})).json()
    assert [c["text"] for c in several["choices"]] == ["a", "a", "b c", "b c"]
    assert several["usage"]["prompt_tokens"] == 3  # each prompt counted once


async def test_health_and_models_never_load(http: httpx.AsyncClient, echo: EchoBackend) -> None:
    health = (await http.get("/health")).json()
    assert health["status"] == "ok" and health["models"] == {"configured": 2, "loaded": 0}
    listing = (await http.get("/v1/models")).json()
    assert [m["id"] for m in listing["data"]] == ["echo", "broken"]
    assert listing["data"][0]["aliases"] == ["default"]
    assert echo.loads == []


async def test_api_keys_protect_everything_but_health(tmp_path: Path) -> None:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    cfg = {"server": {"api_keys": ["sk-first-key-123", "sk-second-key-456"]},
           "models": {"echo": {"backend": "echo", "path": str(model_file)}}}
    async with Hoshikage(cfg, plugins={"echo": EchoBackend()}) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/health")).status_code == 200
            assert (await http.head("/")).status_code == 200  # clients' "is it up?" probe
            error = assert_openai_error(await http.get("/v1/models"), 401,
                                        code="invalid_api_key")
            assert error["type"] == "authentication_error"
            wrong = {"Authorization": "Bearer sk-wrong-key-000"}
            assert_openai_error(await http.get("/v1/models", headers=wrong), 401)
            for key in ("sk-first-key-123", "sk-second-key-456"):
                ok = await http.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
                assert ok.status_code == 200
            sdk = openai.AsyncOpenAI(base_url="http://t/v1", api_key="sk-second-key-456",
                                     http_client=http, max_retries=0)
            reply = await sdk.completions.create(model="echo", prompt="fine")
            assert reply.choices[0].text == "fine"
