"""Tool-call parsing and planning, without a model."""

from __future__ import annotations

import json

from hoshikage_core.serving import NamedTool, ToolSpec
from hoshikage_core.serving.tools import might_be_a_call, parse_tool_calls, plan_tools
from hoshikage_core.types import ChatMessage

WEATHER = ToolSpec("get_weather", parameters={"type": "object",
                                              "properties": {"city": {"type": "string"}}})
TOOLS = [WEATHER]


def test_tagged_calls_are_parsed() -> None:
    text = ('Sure. <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}'
            '</tool_call>')
    [call] = parse_tool_calls(text, TOOLS, bare_json=False)
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_") and len(call.id) == 29


def test_bare_json_string_arguments_and_lists() -> None:
    text = '[{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}]'
    [call] = parse_tool_calls(text, TOOLS, bare_json=True)
    assert json.loads(call.arguments) == {"city": "Oslo"}
    assert parse_tool_calls(text, TOOLS, bare_json=False) == []


def test_unknown_functions_and_broken_json_are_content() -> None:
    assert parse_tool_calls('{"name": "launch_rockets", "arguments": {}}', TOOLS,
                            bare_json=True) == []
    assert parse_tool_calls('<tool_call>{"name": "get_weather", "argu', TOOLS,
                            bare_json=False) == []
    assert parse_tool_calls("The weather is nice.", TOOLS, bare_json=True) == []


def test_plans() -> None:
    assert plan_tools([], None).mode == "none"
    assert plan_tools(TOOLS, None).mode == "auto"
    assert plan_tools(TOOLS, "none").mode == "none"
    forced = plan_tools(TOOLS, "required")
    assert forced.mode == "forced"
    assert forced.json_schema is not None
    assert forced.json_schema["properties"]["name"] == {"const": "get_weather"}
    named = plan_tools(TOOLS, NamedTool("get_weather"))
    assert named.mode == "forced"


def test_instructions_join_the_system_message() -> None:
    plan = plan_tools(TOOLS, None)
    with_system = plan.messages([ChatMessage("system", "Be brief."), ChatMessage("user", "x")])
    assert with_system[0].content.startswith("Be brief.") and "get_weather" in \
        with_system[0].content
    without = plan.messages([ChatMessage("user", "x")])
    assert without[0].role == "system" and len(without) == 2


def test_streams_are_held_only_while_they_may_be_calls() -> None:
    assert might_be_a_call("") and might_be_a_call("  <tool") and might_be_a_call("{")
    assert not might_be_a_call("Hello") and not might_be_a_call("<b>")
