"""OpenAI request features over a scripted backend (in-process, official SDK).

The scripted backend echoes the last message, so a test decides exactly what
the "model" answers: that is how tool-call detection, structured-output
plumbing and validation are checked here; tests/e2e checks them on SmolLM2.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest

from hoshikage_core import Hoshikage, create_app
from tests.api.test_api_errors import assert_openai_error
from tests.fakes import EchoBackend, EchoWithExtras

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


@pytest.fixture
def echo() -> EchoWithExtras:
    return EchoWithExtras()


@pytest.fixture
async def http(tmp_path: Path, echo: EchoWithExtras) -> AsyncIterator[httpx.AsyncClient]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    cfg = {"models": {"echo": {"backend": "echo", "path": str(model_file)},
                      "plain": {"backend": "plain", "path": str(model_file)}}}
    async with Hoshikage(cfg, plugins={"echo": echo, "plain": EchoBackend()}) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


@pytest.fixture
def sdk(http: httpx.AsyncClient) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url="http://t/v1", api_key="x", http_client=http,
                              max_retries=0)


def said(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def test_auto_tool_call_is_detected(sdk: openai.AsyncOpenAI, echo: EchoWithExtras) -> None:
    reply = await sdk.chat.completions.create(model="echo", messages=said(CALL), tools=[WEATHER])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    system = echo.requests[-1].messages[0]  # type: ignore[index]
    assert system.role == "system" and "get_weather" in system.content
    assert echo.requests[-1].tools and echo.requests[-1].json_schema is None


async def test_auto_tool_call_streams_as_deltas(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(model="echo", messages=said(CALL),
                                               tools=[WEATHER], stream=True)
    chunks = [c async for c in stream]
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id and deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert not any(c.choices[0].delta.content for c in chunks)


async def test_plain_answers_with_tools_stay_content(sdk: openai.AsyncOpenAI) -> None:
    for stream in (False, True):
        if stream:
            chunks = [c async for c in await sdk.chat.completions.create(
                model="echo", messages=said("It is sunny"), tools=[WEATHER], stream=True)]
            text = "".join(c.choices[0].delta.content or "" for c in chunks)
            assert text == "It is sunny"
            assert chunks[-1].choices[0].finish_reason == "stop"
        else:
            reply = await sdk.chat.completions.create(model="echo", messages=said("It is sunny"),
                                                      tools=[WEATHER])
            assert reply.choices[0].message.content == "It is sunny"
            assert reply.choices[0].message.tool_calls is None


async def test_required_tool_constrains_the_output(sdk: openai.AsyncOpenAI,
                                                   echo: EchoWithExtras) -> None:
    answer = '{"name": "get_weather", "arguments": {"city": "Oslo"}}'
    reply = await sdk.chat.completions.create(model="echo", messages=said(answer),
                                              tools=[WEATHER], tool_choice="required")
    assert reply.choices[0].finish_reason == "tool_calls"
    schema = echo.requests[-1].json_schema
    assert schema is not None and schema["properties"]["name"] == {"const": "get_weather"}
    assert schema["properties"]["arguments"] == WEATHER["function"]["parameters"]


async def test_conversation_with_tool_results_is_passed_on(sdk: openai.AsyncOpenAI,
                                                           echo: EchoWithExtras) -> None:
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
    ]
    reply = await sdk.chat.completions.create(model="echo", messages=messages, tools=[WEATHER])
    assert reply.choices[0].message.content == "sunny, 21 C"
    sent = echo.requests[-1].messages or []
    assert sent[2].tool_calls and sent[2].tool_calls[0]["function"]["name"] == "get_weather"
    assert sent[3].role == "tool" and sent[3].tool_call_id == "call_1"


async def test_response_format_reaches_the_backend(sdk: openai.AsyncOpenAI,
                                                   echo: EchoWithExtras) -> None:
    await sdk.chat.completions.create(model="echo", messages=said("{}"),
                                      response_format={"type": "json_object"})
    assert echo.requests[-1].json_schema == {"type": "object"}
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    await sdk.chat.completions.create(model="echo", messages=said('{"a": 1}'), response_format={
        "type": "json_schema", "json_schema": {"name": "thing", "schema": schema}})
    assert echo.requests[-1].json_schema == schema
    await sdk.chat.completions.create(model="echo", messages=said("x"),
                                      response_format={"type": "text"})
    assert echo.requests[-1].json_schema is None


@pytest.mark.parametrize(("body", "param"), [
    ({"response_format": {"type": "yaml"}}, "response_format.type"),
    ({"response_format": {"type": "json_schema"}}, "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "objekt"}}}}, "response_format.json_schema.schema"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function",
                                          "function": {"name": "nope"}}}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
    ({"logit_bias": {"hello": 5}}, "logit_bias"),
    ({"logit_bias": {"12": 500}}, "logit_bias"),
    ({"top_logprobs": 3}, "top_logprobs"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"frequency_penalty": -2.5}, "frequency_penalty"),
])
async def test_chat_validation(http: httpx.AsyncClient, body: dict, param: str) -> None:
    response = await http.post("/v1/chat/completions",
                               json={"model": "echo", "messages": said("x"), **body})
    error = assert_openai_error(response, 400)
    assert error["param"] == param, error


@pytest.mark.parametrize(("body", "param"), [
    ({"prompt": []}, "prompt"),
    ({"prompt": "x", "best_of": 3}, "best_of"),
    ({"prompt": "x", "echo": True, "logprobs": 1}, "logprobs"),
    ({"prompt": "x", "logprobs": 50}, "logprobs"),
    ({"prompt": [[1, 2], "mixed"]}, "prompt"),
])
async def test_completion_validation(http: httpx.AsyncClient, body: dict, param: str) -> None:
    error = assert_openai_error(await http.post("/v1/completions",
                                                json={"model": "echo", **body}), 400)
    assert error["param"] == param, error


async def test_embeddings_float_base64_and_usage(sdk: openai.AsyncOpenAI,
                                                 http: httpx.AsyncClient) -> None:
    result = await sdk.embeddings.create(model="echo", input=["ab", "abcd"])  # base64 by default
    assert [d.embedding for d in result.data] == [[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]]
    assert result.usage.prompt_tokens == 2 and result.data[1].index == 1
    raw = (await http.post("/v1/embeddings", json={"model": "echo", "input": "abc",
                                                   "encoding_format": "base64"})).json()
    vector = struct.unpack("<3f", base64.b64decode(raw["data"][0]["embedding"]))
    assert vector == (3.0, 1.0, 0.0) and raw["object"] == "list"
    floats = (await http.post("/v1/embeddings", json={"model": "echo", "input": [[1, 2, 3]],
                                                      "encoding_format": "float"})).json()
    assert floats["data"][0]["embedding"] == [9.0, 1.0, 0.0]  # str([1, 2, 3]) has 9 chars
    error = assert_openai_error(await http.post("/v1/embeddings", json={
        "model": "echo", "input": "x", "dimensions": 2}), 400)
    assert error["param"] == "dimensions"
    assert_openai_error(await http.post("/v1/embeddings", json={"model": "echo", "input": []}),
                        400)


async def test_backend_without_a_capability_says_so(http: httpx.AsyncClient) -> None:
    error = assert_openai_error(await http.post("/v1/embeddings", json={
        "model": "plain", "input": "x"}), 400)
    assert "cannot make embeddings" in error["message"] and error["param"] == "model"
    error = assert_openai_error(await http.post("/tokenize", json={
        "model": "plain", "content": "x"}), 400)
    assert "cannot tokenize" in error["message"]


async def test_tokenize_detokenize_and_echo_of_token_prompts(http: httpx.AsyncClient) -> None:
    tokens = (await http.post("/tokenize", json={"model": "echo", "content": "ab cde"})).json()
    assert tokens == {"tokens": [1, 2, 3]}
    pieces = (await http.post("/tokenize", json={"model": "echo", "content": "ab",
                                                 "add_special": False, "with_pieces": True}))
    assert pieces.json() == {"tokens": [{"id": 2, "piece": "xx"}]}
    text = (await http.post("/detokenize", json={"model": "echo", "tokens": [2, 1]})).json()
    assert text == {"content": "xx x"}
    echoed = (await http.post("/v1/completions", json={"model": "echo", "prompt": [3, 1],
                                                       "echo": True})).json()
    assert echoed["choices"][0]["text"].startswith("xxx x")
