"""The Responses API through the official ``openai`` SDK against a real server:
SmolLM2 for text, structured output and stored conversations; tiny models with a
real tool-call template and a thinking template for function calls and reasoning."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.conftest import RunningServer

pytestmark = pytest.mark.real_model

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "required": ["city"], "properties": {
               "city": {"type": "string", "enum": ["Paris", "Oslo"]}}}}


@pytest.fixture(scope="module")
def client(dialect_server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{dialect_server.url}/v1", api_key="unused", max_retries=0)


def streamed(client: openai.OpenAI, **body: Any) -> tuple[list[Any], Any]:
    """Every event of a streamed response, and the response its last event carries."""
    events = list(client.responses.create(stream=True, **body))
    return events, events[-1].response


def test_a_response_whole_and_streamed_agree(client: openai.OpenAI) -> None:
    body: dict[str, Any] = {"model": "default", "input": "The capital of France is",
                            "instructions": "Answer briefly.", "max_output_tokens": 200,
                            "temperature": 0}
    whole = client.responses.create(**body)
    assert whole.id.startswith("resp_") and whole.status == "completed"
    assert whole.output_text.strip() and whole.model == "smollm2"
    assert [item.type for item in whole.output] == ["message"]
    assert whole.usage is not None and whole.usage.input_tokens > 10
    assert whole.usage.output_tokens > 0 and whole.instructions == "Answer briefly."
    with client.responses.stream(**body) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == whole.output_text and final.status == "completed"
    events, last = streamed(client, **body)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added = [e.item.id for e in events if e.type == "response.output_item.added"]
    assert added == [item.id for item in last.output]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == last.output_text == whole.output_text


def test_input_items_and_a_length_cut(client: openai.OpenAI) -> None:
    reply = client.responses.create(model="default", max_output_tokens=4, temperature=0, input=[
        {"role": "developer", "content": "Be brief."},
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "Name a colour."}]}])
    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None
    assert reply.incomplete_details.reason == "max_output_tokens"
    assert reply.usage is not None and reply.usage.output_tokens == 4
    events, last = streamed(client, model="default", input="Hi", max_output_tokens=4)
    assert events[-1].type == "response.incomplete" and last.status == "incomplete"


def test_function_calls_and_their_outputs(client: openai.OpenAI) -> None:
    body: dict[str, Any] = {"model": "hermes", "input": "Weather in Paris?", "tools": [WEATHER],
                            "tool_choice": "required", "parallel_tool_calls": False,
                            "max_output_tokens": 120, "temperature": 0}
    reply = client.responses.create(**body)
    calls = [item for item in reply.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments)["city"] in ("Paris", "Oslo") and calls[0].call_id
    events, last = streamed(client, **body)
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [e.arguments for e in done] == [calls[0].arguments]
    assert "".join(e.delta for e in events
                   if e.type == "response.function_call_arguments.delta") == calls[0].arguments
    assert [i.type for i in last.output] == ["function_call"]
    named = client.responses.create(**{**body, "tool_choice": {"type": "function",
                                                               "name": "get_weather"}})
    assert [i.type for i in named.output] == ["function_call"]
    grouped = client.responses.create(**{**body, "tools": [{  # Codex CLI groups its tools
        "type": "namespace", "name": "weather", "description": "Weather tools.",
        "tools": [WEATHER]}]})
    assert [(i.name, i.namespace) for i in grouped.output] == [("get_weather", "weather")]
    follow_up = client.responses.create(model="hermes", tools=[WEATHER], max_output_tokens=8,
                                        input=[{"role": "user", "content": "Weather in Paris?"},
                                               calls[0].model_dump(exclude_none=True),
                                               {"type": "function_call_output",
                                                "call_id": calls[0].call_id,
                                                "output": "Sunny, 21 C"}])
    assert follow_up.status in ("completed", "incomplete")


def test_reasoning_items(client: openai.OpenAI) -> None:
    body: dict[str, Any] = {"model": "thinker", "input": "Why?", "max_output_tokens": 10,
                            "temperature": 0}
    reply = client.responses.create(**body)
    assert reply.output[0].type == "reasoning"
    thought = reply.output[0].content[0].text  # type: ignore[union-attr,index]
    assert thought and reply.usage is not None
    assert reply.usage.output_tokens_details.reasoning_tokens > 0
    events, last = streamed(client, **body)
    assert "".join(e.delta for e in events if e.type == "response.reasoning_text.delta") \
        == thought
    assert last.output[0].content[0].text == thought
    follow_up = client.responses.create(model="thinker", max_output_tokens=4, input=[
        {"role": "user", "content": "Why?"}, reply.output[0].model_dump(exclude_none=True),
        {"role": "assistant", "content": "Because."}, {"role": "user", "content": "Sure?"}])
    assert follow_up.usage is not None and follow_up.usage.input_tokens > 10


class Capital(BaseModel):
    city: str
    country: str


def test_structured_output(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(model="default", input="The capital of France?",
                                    text_format=Capital, max_output_tokens=60, temperature=0)
    assert isinstance(parsed.output_parsed, Capital) and parsed.output_parsed.city
    reply = client.responses.create(model="default", input="What is 2+2? Reply in JSON.",
                                    text={"format": {"type": "json_object"}},
                                    max_output_tokens=60, temperature=0)
    assert isinstance(json.loads(reply.output_text), dict)


def test_stored_responses_continue_a_conversation(client: openai.OpenAI) -> None:
    first = client.responses.create(model="default", input="My name is Ada.",
                                    max_output_tokens=8, temperature=0)
    second = client.responses.create(model="default", input="What is my name?",
                                     previous_response_id=first.id, max_output_tokens=8,
                                     temperature=0)
    assert first.usage is not None and second.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    assert second.usage.input_tokens_details.cached_tokens > 0  # the first turn was reused
    assert client.responses.retrieve(first.id).output_text == first.output_text
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    unstored = client.responses.create(model="default", input="Hi", store=False,
                                       max_output_tokens=2)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError) as gone:
        client.responses.create(model="default", input="Hi", previous_response_id=first.id)
    assert gone.value.body["param"] == "previous_response_id"  # type: ignore[index]
    kept = [client.responses.create(model="default", input=f"{i}", max_output_tokens=1).id
            for i in range(5)]  # the store keeps 4: the oldest goes
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept[0])
    assert client.responses.retrieve(kept[-1]).id == kept[-1]


def test_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as tool:
        client.responses.create(model="default", input="x", tools=[{"type": "web_search"}])
    assert tool.value.body["param"] == "tools[0].type"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as image:
        client.responses.create(model="default", input=[{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://example.com/a.png"}]}])
    assert image.value.body["param"] == "input[0].content[0].type"  # type: ignore[index]

    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="nope", input="x")
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]


@pytest.mark.parametrize("depth", [100, 600])
def test_deeply_nested_schemas_are_400s_not_crashes(dialect_server: RunningServer,
                                                    depth: int) -> None:
    """Sent as text: Python's own encoder would give up before the server does."""
    schema = '{"type": "array", "items": ' * depth + '{"type": "string"}' + "}" * depth
    body = ('{"model": "default", "input": "x", "max_output_tokens": 2, "text": {"format": '
            '{"type": "json_schema", "name": "deep", "schema": ' + schema + "}}}")
    reply = httpx.post(f"{dialect_server.url}/v1/responses", content=body, timeout=120,
                       headers={"content-type": "application/json"})
    if depth == 100:  # deep, but within what llama.cpp parses
        assert reply.status_code == 200, reply.text
    else:
        assert reply.status_code == 400, reply.text
    assert httpx.get(f"{dialect_server.url}/health").status_code == 200
