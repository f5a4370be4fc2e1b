"""Real templates' formats through a real server and the official SDK: tool calls in
each family's own syntax, thinking apart from the answer, streamed and whole alike,
and /apply-template. The models are tiny random-weight GGUFs carrying the templates;
grammar-constrained output keeps their noise meaningful."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from hoshikage_core.testing.tiny_gguf import write_tiny_gguf
from tests.conftest import RunningServer, start_server, stop_server
from tests.serving.families import FAMILIES
from tests.serving.test_reasoning import OPENS_THINK

pytestmark = pytest.mark.real_model

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string", "enum": ["Paris", "Oslo"]}}}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
NO_EOS = {"2": -100}
MODELS = ["hermes", "qwen3-coder", "mistral", "kimi", "array"]


@pytest.fixture(scope="module")
def formats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("formats")
    lines = ["[defaults]\nmax_loaded_models = 2\n"]
    for name, template in [*((m, FAMILIES[m]) for m in MODELS), ("thinker", OPENS_THINK)]:
        path = write_tiny_gguf(folder / f"{name}.gguf", context_length=4096,
                               chat_template=template)
        lines.append(f'[models.{name}]\npath = "{path}"\n[models.{name}.options]\n'
                     "n_ctx = 4096\n")
    config = folder / "formats.toml"
    config.write_text("\n".join(lines))
    server = start_server(config, folder / "formats.log")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def client(formats_server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{formats_server.url}/v1", api_key="x", max_retries=0)


def streamed_calls(client: openai.OpenAI, **body: Any) -> tuple[list[tuple[str, str]], str]:
    """The calls of a streamed answer, assembled as SDK users do, and its finish_reason."""
    calls: dict[int, list[str]] = {}
    finish = ""
    for chunk in client.chat.completions.create(stream=True, **body):
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            entry = calls.setdefault(delta.index, ["", ""])
            if delta.function and delta.function.name:
                entry[0] = delta.function.name
            if delta.function and delta.function.arguments:
                entry[1] += delta.function.arguments
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    return [(name, arguments) for name, arguments in
            (calls[i] for i in sorted(calls))], finish


@pytest.mark.parametrize("model", MODELS)
def test_a_required_call_comes_in_the_models_own_format(client: openai.OpenAI,
                                                        model: str) -> None:
    body = {"model": model, "messages": ASK, "tools": [WEATHER], "tool_choice": "required",
            "max_tokens": 120, "temperature": 0, "parallel_tool_calls": False}
    reply = client.chat.completions.create(**body)  # type: ignore[call-overload]
    calls = reply.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather", reply
    assert json.loads(calls[0].function.arguments)["city"] in ("Paris", "Oslo")
    assert reply.choices[0].finish_reason == "tool_calls" and len(calls) == 1
    streamed, finish = streamed_calls(client, **body)
    assert streamed == [(calls[0].function.name, calls[0].function.arguments)]
    assert finish == "tool_calls"


def test_the_prompt_shows_tools_the_models_own_way(formats_server: RunningServer) -> None:
    shown = httpx.post(f"{formats_server.url}/apply-template", timeout=120, json={
        "model": "qwen3-coder", "tools": [WEATHER], "messages": [
            *ASK, {"role": "assistant", "content": "", "tool_calls": [{
                "id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "rain"}]})
    prompt = shown.json()["prompt"]
    assert '<tools>[{"type": "function", "function": {"name": "get_weather"' in prompt
    assert "<function=get_weather>\n<parameter=city>\nOslo\n</parameter>" in prompt
    assert "You can call these functions" not in prompt  # no generic instructions
    assert prompt.endswith("<|im_start|>assistant\n")


def test_thinking_comes_apart_and_streams_alike(client: openai.OpenAI) -> None:
    body = {"model": "thinker", "messages": ASK, "max_tokens": 12, "temperature": 0,
            "extra_body": {"logit_bias": NO_EOS}}
    reply = client.chat.completions.create(**body)  # type: ignore[call-overload]
    message = reply.choices[0].message.model_dump()
    usage = reply.usage
    assert message["reasoning_content"] and message["reasoning"] == message["reasoning_content"]
    assert not message["content"]  # a random model never closes its think block
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == usage.completion_tokens == 12
    thought, text, streamed_usage = "", "", None
    for chunk in client.chat.completions.create(stream=True, stream_options={
            "include_usage": True}, **body):
        delta = chunk.choices[0].delta.model_dump() if chunk.choices else {}
        thought += delta.get("reasoning_content") or ""
        text += delta.get("content") or ""
        streamed_usage = chunk.usage or streamed_usage
    assert (thought, text) == (message["reasoning_content"], message["content"] or "")
    assert streamed_usage is not None  # the same counts (the second run hits the prompt cache)
    assert (streamed_usage.prompt_tokens, streamed_usage.completion_tokens) == (
        usage.prompt_tokens, usage.completion_tokens)
    # (draft counts depend on each run's timings; what the model thought does not)
    assert streamed_usage.completion_tokens_details.reasoning_tokens == \
        usage.completion_tokens_details.reasoning_tokens


def test_a_thinking_budget_and_raw_mode(client: openai.OpenAI) -> None:
    budget = client.chat.completions.create(
        model="thinker", messages=ASK, max_tokens=12, temperature=0,  # type: ignore[arg-type]
        extra_body={"logit_bias": NO_EOS, "reasoning_budget": 4})
    message = budget.choices[0].message.model_dump()
    assert message["reasoning_content"] and message["content"]  # closed after 4 tokens
    assert budget.usage is not None and budget.usage.completion_tokens == 12
    assert budget.usage.completion_tokens_details.reasoning_tokens == 4  # type: ignore[union-attr]
    raw = client.chat.completions.create(
        model="thinker", messages=ASK, max_tokens=6, temperature=0,  # type: ignore[arg-type]
        extra_body={"logit_bias": NO_EOS, "reasoning_format": "none"})
    assert raw.choices[0].message.content and not getattr(
        raw.choices[0].message, "reasoning_content", None)


def test_thinking_off_through_chat_template_kwargs(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="thinker", messages=ASK, max_tokens=6, temperature=0,  # type: ignore[arg-type]
        extra_body={"logit_bias": NO_EOS, "chat_template_kwargs": {"enable_thinking": False}})
    assert reply.choices[0].message.content
    assert not getattr(reply.choices[0].message, "reasoning_content", None)
