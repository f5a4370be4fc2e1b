"""The chat and completion services over a scripted backend: events, their fold,
tool calls, n choices, and errors before the first event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from hoshikage_core import ChatMessage, Hoshikage
from hoshikage_core.errors import InvalidRequestError, ModelNotFoundError
from hoshikage_core.serving import (
    ChatEvent,
    ChatRequest,
    ChoiceEnd,
    ChoiceStart,
    NamedTool,
    Sampling,
    StreamEnd,
    TextDelta,
    TextRequest,
    ToolCallArguments,
    ToolCallStart,
    ToolSpec,
)
from tests.fakes import EchoWithExtras

WEATHER = ToolSpec("get_weather", "The weather in a city.", {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
CALL = json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})


@pytest.fixture
async def hk(tmp_path: Path) -> AsyncIterator[Hoshikage]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    config = {"models": {"m": {"backend": "echo", "path": str(model_file), "max_n": 3}}}
    async with Hoshikage(config, plugins={"echo": EchoWithExtras()}) as instance:
        yield instance


async def events_of(hk: Hoshikage, request: ChatRequest) -> list[ChatEvent]:
    async with aclosing(hk.stream_chat(request)) as events:
        return [event async for event in events]


def ask(text: str, **fields: Any) -> ChatRequest:
    return ChatRequest(model="m", messages=[ChatMessage("user", text)], **fields)


async def test_the_answer_is_the_fold_of_the_events(hk: Hoshikage) -> None:
    request = ask("one two three", n=2, sampling=Sampling(max_tokens=2))
    events = await events_of(hk, request)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ChoiceStart", "TextDelta", "TextDelta", "ChoiceEnd"] * 2 + ["StreamEnd"]
    result = await hk.chat(request)
    texts = ["".join(e.text for e in events if isinstance(e, TextDelta) and e.choice == i)
             for i in range(2)]
    assert [c.content for c in result.choices] == texts == ["one two", "one two"]
    assert [c.finish_reason for c in result.choices] == ["length", "length"]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.usage == result.usage
    assert result.usage.completion_tokens == 4 and result.usage.prompt_tokens == 3


async def test_a_required_call_comes_as_call_events(hk: Hoshikage) -> None:
    request = ask(CALL, tools=[WEATHER], tool_choice="required")
    events = await events_of(hk, request)
    start = next(e for e in events if isinstance(e, ToolCallStart))
    arguments = "".join(e.arguments for e in events if isinstance(e, ToolCallArguments))
    assert start.name == "get_weather" and start.id.startswith("call_")
    assert json.loads(arguments) == {"city": "Paris"}
    assert not any(isinstance(e, TextDelta) for e in events)  # the call is not text too
    assert next(e for e in events if isinstance(e, ChoiceEnd)).finish_reason == "tool_calls"
    result = await hk.chat(request)
    assert result.choices[0].content is None and result.finish_reason == "tool_calls"
    assert [c.name for c in result.tool_calls] == ["get_weather"]


async def test_text_that_is_not_a_call_flows_before_the_end(hk: Hoshikage) -> None:
    events = await events_of(hk, ask("hello there friend", tools=[WEATHER]))
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    end = next(i for i, e in enumerate(events) if isinstance(e, ChoiceEnd))
    assert first_text < end - 1  # released as it came, not held to the end
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hello there friend"


async def test_a_broken_call_is_text_not_an_error(hk: Hoshikage) -> None:
    result = await hk.chat(ask('{"name": "get_weather", "arguments": {"city"',
                               tools=[WEATHER], tool_choice=NamedTool("get_weather")))
    assert result.tool_calls == () and result.text.startswith('{"name"')
    assert result.finish_reason == "stop"


async def test_errors_come_before_the_first_event(hk: Hoshikage) -> None:
    for request, error in [(ChatRequest("nope", [ChatMessage("user", "x")]), ModelNotFoundError),
                           (ask("x", n=4), InvalidRequestError),
                           (ask("x", tool_choice=NamedTool("missing"), tools=[WEATHER]),
                            InvalidRequestError),
                           (ask("word " * 60), InvalidRequestError)]:  # too long for echo
        stream = hk.stream_chat(request)
        with pytest.raises(error):
            await stream.__anext__()
        await stream.aclose()
    assert hk.get("m").running == 0


async def test_completions_echo_several_prompts_and_count_each_prompt_once(
        hk: Hoshikage) -> None:
    request = TextRequest(model="m", prompts=["a b", [5, 6, 7]], n=2, echo=True,
                          sampling=Sampling(max_tokens=1))
    result = await hk.complete(request)
    assert [c.text for c in result.choices] == ["a ba", "a ba", "xxxxx xxxxxx xxxxxxx5",
                                                "xxxxx xxxxxx xxxxxxx5"]
    assert result.choices[0].logprobs is None
    assert result.usage.prompt_tokens == 2 + 3 and result.usage.completion_tokens == 4
    events = [e async for e in hk.stream_completion(request)]
    assert [e.echo for e in events if isinstance(e, TextDelta)][:2] == [True, False]
    assert sum(isinstance(e, ChoiceStart) for e in events) == 4
