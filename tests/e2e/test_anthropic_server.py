"""Anthropic's Messages API through the official ``anthropic`` SDK against a real
server: the bundled SmolLM2 for text, stops, structured output and token counts;
tiny models with a real tool-call template and a thinking template for tool use and
thinking blocks; a gated model for the pings a stream sends while it waits."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest
from pydantic import BaseModel

from tests.conftest import RunningServer
from tests.e2e.conftest import open_gate

pytestmark = pytest.mark.real_model

ASK = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = {"name": "get_weather", "description": "The weather in a city.",
           "input_schema": {"type": "object", "required": ["city"], "properties": {
               "city": {"type": "string", "enum": ["Paris", "Oslo"]}}}}
GREEDY = {"extra_body": {"temperature": 0}}  # the SDK no longer has a temperature argument


@pytest.fixture(scope="module")
def client(dialect_server: RunningServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=dialect_server.url, api_key="unused", max_retries=0)


def test_a_message_whole_and_streamed_agree(client: anthropic.Anthropic) -> None:
    body: dict[str, Any] = {"model": "default", "max_tokens": 24, "messages": ASK, **GREEDY}
    whole = client.messages.create(**body)
    assert whole.id.startswith("msg_") and whole.model == "smollm2"
    assert whole.role == "assistant" and whole.type == "message"
    assert [b.type for b in whole.content] == ["text"] and whole.content[0].text.strip()
    assert whole.stop_reason in ("end_turn", "max_tokens")
    assert whole.usage.output_tokens > 0
    prompt = whole.usage.input_tokens + (whole.usage.cache_read_input_tokens or 0)
    assert prompt > 10
    with client.messages.stream(**body) as stream:
        kinds = [event.type for event in stream]
        streamed = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop",
            "message_delta"} <= set(kinds)
    assert streamed.content[0].text == whole.content[0].text  # type: ignore[union-attr]
    assert streamed.stop_reason == whole.stop_reason
    assert streamed.usage.output_tokens == whole.usage.output_tokens
    assert streamed.usage.input_tokens + (streamed.usage.cache_read_input_tokens or 0) == prompt


def test_max_tokens_and_stop_sequences(client: anthropic.Anthropic) -> None:
    cut = client.messages.create(model="default", max_tokens=5, messages=ASK, **GREEDY)
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 5
    text = client.messages.create(model="default", max_tokens=24, messages=ASK,
                                  **GREEDY).content[0].text  # type: ignore[union-attr]
    word = text.split()[2]  # a word the greedy answer is known to write
    stopped = client.messages.create(model="default", max_tokens=24, messages=ASK,
                                     stop_sequences=["no such stop", word], **GREEDY)
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == word
    assert word not in stopped.content[0].text  # type: ignore[union-attr]
    assert text.startswith(stopped.content[0].text)  # type: ignore[union-attr]


def test_a_tool_use_round_trip(client: anthropic.Anthropic) -> None:
    body: dict[str, Any] = {"model": "hermes", "max_tokens": 120, "tools": [WEATHER],
                            "tool_choice": {"type": "tool", "name": "get_weather"},
                            "messages": [{"role": "user", "content": "Weather in Paris?"}],
                            **GREEDY}
    reply = client.messages.create(**body)
    assert reply.stop_reason == "tool_use"
    uses = [b for b in reply.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather"
    assert uses[0].id.startswith("toolu_") and uses[0].input["city"] in ("Paris", "Oslo")
    with client.messages.stream(**body) as stream:
        deltas = [e.delta.type for e in stream if e.type == "content_block_delta"]
        streamed = stream.get_final_message()
    assert "input_json_delta" in deltas and streamed.stop_reason == "tool_use"
    assert [b.input for b in streamed.content if b.type == "tool_use"] == [uses[0].input]
    follow_up = client.messages.create(model="hermes", max_tokens=8, tools=[WEATHER], messages=[
        body["messages"][0],
        {"role": "assistant", "content": [{"type": "text", "text": "Let me look."},
                                          uses[0].model_dump()]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": uses[0].id, "content": "Sunny, 21 C"},
            {"type": "text", "text": "And tomorrow?"}]}], **GREEDY)
    assert follow_up.stop_reason in ("end_turn", "max_tokens", "tool_use")
    any_call = client.messages.create(**{**body, "tool_choice": {"type": "any"}})
    assert any_call.stop_reason == "tool_use"
    loose = {"name": "run", "description": "Runs a script.", "input_schema": {  # Claude
        "type": "object", "properties": {"args": {"description": "Any value."},  # Code's
                                         "script": {"type": "string", "maxLength": 524288}}}}
    other = client.messages.create(**{**body, "tools": [WEATHER, loose]})
    assert other.stop_reason == "tool_use"


def test_thinking_comes_as_thinking_blocks(client: anthropic.Anthropic) -> None:
    body: dict[str, Any] = {"model": "thinker", "max_tokens": 12, "messages": ASK, **GREEDY}
    whole = client.messages.create(**body)
    assert whole.content[0].type == "thinking" and whole.content[0].thinking
    assert whole.content[0].signature  # stable: the same thinking, the same signature
    with client.messages.stream(**body) as stream:
        deltas = [e.delta.type for e in stream if e.type == "content_block_delta"]
        streamed = stream.get_final_message()
    assert "thinking_delta" in deltas and "signature_delta" in deltas
    assert streamed.content[0] == whole.content[0]
    budgeted = client.messages.create(**{**body, "max_tokens": 20,
                                         "thinking": {"type": "enabled", "budget_tokens": 4}})
    kinds = [b.type for b in budgeted.content]
    assert kinds[0] == "thinking" and len(kinds) >= 2, kinds  # the answer went on after it
    omitted = client.messages.create(**{**body, "thinking": {"type": "adaptive",
                                                             "display": "omitted"}})
    assert "thinking" not in [b.type for b in omitted.content]


class Capital(BaseModel):
    city: str
    country: str


def test_structured_output(client: anthropic.Anthropic) -> None:
    parsed = client.messages.parse(model="default", max_tokens=60, messages=ASK,
                                   output_format=Capital, **GREEDY)
    assert isinstance(parsed.parsed_output, Capital) and parsed.parsed_output.city
    schema = {"type": "object", "required": ["answer"],
              "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}}}
    reply = client.messages.create(model="default", max_tokens=20, messages=ASK,
                                   output_config={"format": {"type": "json_schema",
                                                             "schema": schema}}, **GREEDY)
    assert json.loads(reply.content[0].text)["answer"] in ("yes", "no")  # type: ignore[union-attr]


def test_count_tokens_matches_usage_and_ignores_the_billing_header(
        client: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.9; cch=1a2b3;"},
              {"type": "text", "text": "You answer in one word."}]
    counted = client.messages.count_tokens(model="default", messages=ASK, system=system)
    plain = client.messages.count_tokens(model="default", messages=ASK,
                                         system="You answer in one word.")
    assert counted.input_tokens == plain.input_tokens > 10
    used = client.messages.create(model="default", max_tokens=3, messages=ASK, system=system,
                                  **GREEDY).usage
    assert used.input_tokens + (used.cache_read_input_tokens or 0) == counted.input_tokens
    system[0]["text"] = "x-anthropic-billing-header: cc_version=2.1.9; cch=9f8e7;"
    again = client.messages.create(model="default", max_tokens=3, messages=ASK, system=system,
                                   **GREEDY).usage
    assert (again.cache_read_input_tokens or 0) >= counted.input_tokens - 1  # all reused


def test_a_system_turn_mid_conversation_becomes_a_reminder(
        client: anthropic.Anthropic) -> None:
    """Claude Code's mid-conversation-system beta puts a system turn after the user's."""
    turns: list[Any] = [{"role": "user", "content": "Hi"},
                        {"role": "system", "content": "Be brief."}]
    as_sent = client.messages.count_tokens(model="default", messages=turns)
    merged = client.messages.count_tokens(model="default", messages=[{
        "role": "user", "content": "Hi\n<system-reminder>\nBe brief.\n</system-reminder>"}])
    assert as_sent.input_tokens == merged.input_tokens
    reply = client.messages.create(model="default", max_tokens=3, messages=turns, **GREEDY)
    assert reply.stop_reason in ("end_turn", "max_tokens")


def test_errors_in_anthropics_shape(client: anthropic.Anthropic,
                                    dialect_server: RunningServer) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="nope", max_tokens=3, messages=ASK)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as image:
        client.messages.create(model="default", max_tokens=3, messages=[{"role": "user",
            "content": [{"type": "image", "source": {"type": "base64",
                                                      "media_type": "image/png", "data": "AA"}}]}])
    assert "images" in image.value.message
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        client.messages.create(model="default", max_tokens=3, messages=ASK,
                               tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert "tools[0]" in server_tool.value.message
    raw = httpx.post(f"{dialect_server.url}/v1/messages", json={"model": "default",
                                                                "messages": ASK})
    assert raw.status_code == 400 and raw.json()["type"] == "error"
    assert raw.json()["error"] == {"type": "invalid_request_error",
                                   "message": "Missing required parameter: 'max_tokens'."}


def test_a_stream_pings_while_the_model_loads(dialect_server: RunningServer) -> None:
    events: list[str] = []
    with httpx.stream("POST", f"{dialect_server.url}/v1/messages", timeout=60, json={
            "model": "cold", "max_tokens": 5, "stream": True, "messages": ASK}) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
            if events.count("ping") == 2:  # still loading: the gate is closed
                break
        open_gate(dialect_server.log_path.parent)
        for line in lines:
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
    assert events[:2] == ["message_start", "ping"]
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert "content_block_delta" in events
