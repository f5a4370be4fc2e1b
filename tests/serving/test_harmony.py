"""gpt-oss's harmony format: thinking, answer and calls on their channels."""

from __future__ import annotations

import json
from pathlib import Path

from hoshikage_core import ChatMessage
from hoshikage_core.serving import ChatRequest, Sampling, ToolSpec
from hoshikage_core.serving.formats.harmony import HarmonySplitter
from tests.serving.scripted import Scripted, scripted_hoshikage

# a small template in harmony's documented shape (system, user, assistant messages)
HARMONY = """{%- for m in messages -%}
{%- if m.role == 'assistant' -%}<|start|>assistant<|channel|>final<|message|>
{%- else -%}<|start|>{{ m.role }}<|message|>{%- endif -%}{{ m.content }}<|end|>
{%- endfor -%}
{%- if add_generation_prompt %}<|start|>assistant{% endif %}"""
WEATHER = ToolSpec("get_weather", "The weather.", {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
ANSWER = ("<|channel|>analysis<|message|>The user wants weather.<|end|>"
          "<|start|>assistant<|channel|>final<|message|>It is sunny.")
CALL = ("<|channel|>analysis<|message|>Need the tool.<|end|><|start|>assistant"
        '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>'
        '{"city": "Paris"}')


def split(text: str, size: int = 3) -> list[tuple[str, str]]:
    splitter = HarmonySplitter()
    out = [p for i in range(0, len(text), size) for p in splitter.feed(text[i:i + size])]
    out += splitter.flush()
    joined: list[tuple[str, str]] = []
    for kind, piece in out:
        if joined and joined[-1][0] == kind and kind != "call":
            joined[-1] = (kind, joined[-1][1] + piece)
        else:
            joined.append((kind, piece))
    return joined


def test_channels_come_apart_and_no_marker_leaks() -> None:
    assert split(ANSWER) == [("reasoning", "The user wants weather."),
                             ("content", "It is sunny.")]
    kinds = split(CALL)
    assert kinds[0] == ("reasoning", "Need the tool.") and kinds[1][0] == "call"
    assert json.loads(kinds[1][1]) == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert split("Just words.") == [("content", "Just words.")]


async def test_harmony_through_the_service(tmp_path: Path) -> None:
    pieces = [CALL[i:i + 5] for i in range(0, len(CALL), 5)]
    backend = Scripted(HARMONY, answers=[[ANSWER], pieces])
    async with scripted_hoshikage(tmp_path, backend) as hk:
        answer = await hk.chat([ChatMessage("user", "Weather?")], model="m")
        called = await hk.chat(ChatRequest("m", [ChatMessage("user", "Weather?")],
                                           tools=[WEATHER], tool_choice="required",
                                           sampling=Sampling(max_tokens=400)))
    assert (answer.reasoning, answer.text) == ("The user wants weather.", "It is sunny.")
    assert called.reasoning == "Need the tool." and called.finish_reason == "tool_calls"
    assert [(c.name, json.loads(c.arguments)) for c in called.tool_calls] == [
        ("get_weather", {"city": "Paris"})]
    forced = backend.requests[1]
    assert forced.constraint is not None and forced.json_schema is None
    assert (forced.chat_prompt or "").endswith("<|start|>assistant")
