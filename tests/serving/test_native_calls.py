"""Tool calls in a model's own format: learned from its template, read back from what
the template renders (streamed in small pieces), never swallowing text, and held to
a grammar that llama.cpp accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hoshikage_core import ChatMessage
from hoshikage_core.kit.templates import ChatTemplate
from hoshikage_core.serving import ChatRequest, Sampling, ToolSpec
from hoshikage_core.serving.formats.calls import learn_calls
from hoshikage_core.serving.formats.grammar import call_constraint
from hoshikage_core.serving.formats.native import NativeCalls
from tests.serving.families import FAMILIES
from tests.serving.scripted import Scripted, scripted_hoshikage

WEATHER = ToolSpec("get_weather", "The weather.", {
    "type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
                                     "days": {"type": "integer"}}, "required": ["city"]})
TIME = ToolSpec("get_time", "The time.", {"type": "object",
                                          "properties": {"zone": {"type": "string"}}})
CALLS = [{"id": "call_a", "type": "function", "function": {
             "name": "get_weather", "arguments": json.dumps({"city": "Paris", "days": 3})}},
         {"id": "call_b", "type": "function", "function": {
             "name": "get_time", "arguments": json.dumps({"zone": "CET"})}}]
EXPECTED_KIND = {"hermes": "json", "qwen3-coder": "xml", "mistral": "named", "llama3": "json",
                 "kimi": "named", "array": "json", "glm": "xml"}


def written(template: ChatTemplate, calls: list[dict[str, object]]) -> str:
    """What the model writes for these calls: the render after the generation prompt."""
    question = [ChatMessage("user", "Q?")]
    prompt = template.render(question)
    history = template.render([*question, ChatMessage("assistant", "", tool_calls=calls)],
                              add_generation_prompt=False)
    assert history.startswith(prompt)
    return history[len(prompt):].removesuffix("<|im_end|>\n")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_format_is_learned_and_read_back_piece_by_piece(family: str) -> None:
    template = ChatTemplate(FAMILIES[family])
    fmt = learn_calls(template)
    assert fmt is not None and fmt.kind == EXPECTED_KIND[family], fmt
    calls = CALLS[:1] if fmt.single else CALLS
    text = "Sure. " + written(template, calls) if fmt.start.strip() else written(template,
                                                                                  calls)
    parser = NativeCalls(fmt, [WEATHER, TIME], "auto")
    out = [p for i in range(0, len(text), 2) for p in parser.feed(text[i:i + 2], ())]
    out += parser.finish(complete=True)
    got = [(p.call.name, json.loads(p.call.arguments)) for p in out if p.call]
    assert got == [(c["function"]["name"], json.loads(c["function"]["arguments"]))  # type: ignore[index]
                   for c in calls]
    content = "".join(p.text for p in out if p.kind == "content")
    assert content.strip() == ("Sure." if fmt.start.strip() else "")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_text_and_calls_to_unknown_functions_are_content(family: str) -> None:
    fmt = learn_calls(ChatTemplate(FAMILIES[family]))
    assert fmt is not None
    template = ChatTemplate(FAMILIES[family])
    unknown = [{"id": "x", "type": "function",
                "function": {"name": "launch_rockets", "arguments": "{}"}}]
    for text in ["Just an answer, no calls.", written(template, unknown)]:
        parser = NativeCalls(fmt, [WEATHER, TIME], "auto")
        out = parser.feed(text, ()) + parser.finish(complete=True)
        assert [p.kind for p in out if p.kind == "call"] == []
        assert "".join(p.text for p in out) == text


def test_one_call_only_when_parallel_calls_are_off() -> None:
    template = ChatTemplate(FAMILIES["hermes"])
    fmt = learn_calls(template)
    assert fmt is not None
    parser = NativeCalls(fmt, [WEATHER, TIME], "auto", parallel=False)
    out = parser.feed(written(template, CALLS), ()) + parser.finish(complete=True)
    assert [p.call.name for p in out if p.call] == ["get_weather"]
    parser = NativeCalls(fmt, [WEATHER, TIME], "auto")
    out = parser.feed(written(template, CALLS), ()) + parser.finish(complete=True)
    assert [p.call.name for p in out if p.call] == ["get_weather", "get_time"]


@pytest.mark.real_model
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("forced", [True, False], ids=["required", "auto"])
def test_the_grammar_compiles_in_llama_cpp(family: str, forced: bool) -> None:
    from llama_cpp.llama_grammar import LlamaGrammar

    from hoshikage_backends.llamacpp.grammar import to_gbnf

    fmt = learn_calls(ChatTemplate(FAMILIES[family]))
    assert fmt is not None
    constraint = call_constraint(fmt, [WEATHER, TIME], forced=forced)
    if constraint is None:  # auto on a format with no start marker (bare JSON)
        assert not forced and not fmt.start.strip()
        return
    assert bool(constraint.triggers) is not forced
    grammar = to_gbnf(constraint)
    LlamaGrammar.from_string(grammar, verbose=False)  # raises if llama.cpp refuses it
    assert "get_weather" in grammar and "Paris" in grammar  # the names, the enum


async def test_the_service_asks_for_calls_in_the_models_format(tmp_path: Path) -> None:
    template = ChatTemplate(FAMILIES["qwen3-coder"])
    answer = written(template, CALLS[:1])
    backend = Scripted(FAMILIES["qwen3-coder"], answers=[[answer[i:i + 4] for i in
                                                          range(0, len(answer), 4)]])
    async with scripted_hoshikage(tmp_path, backend) as hk:
        result = await hk.chat(ChatRequest("m", [ChatMessage("user", "Weather?")],
                                           tools=[WEATHER, TIME], tool_choice="required",
                                           sampling=Sampling(max_tokens=500)))
    (request,) = backend.requests
    assert request.constraint is not None and not request.constraint.triggers
    assert request.json_schema is None  # the grammar holds it to the model's own syntax
    assert '<tools>[{"type": "function"' in (request.chat_prompt or "")  # shown natively
    assert "You must call" not in (request.chat_prompt or "")  # no generic instructions
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris", "days": 3})]
    assert result.finish_reason == "tool_calls"


async def test_a_tool_use_variant_renders_chats_with_tools(tmp_path: Path) -> None:
    plain = "{% for m in messages %}{{ m.content }}{% endfor %}"
    backend = Scripted(plain, answers=[["Hi"], ["Hi"]], tool_use=FAMILIES["hermes"])
    async with scripted_hoshikage(tmp_path, backend) as hk:
        await hk.chat([ChatMessage("user", "Hello")], model="m")
        await hk.chat([ChatMessage("user", "Hello")], model="m", tools=[WEATHER])
    without, with_tools = (r.chat_prompt or "" for r in backend.requests)
    assert without == "Hello"
    assert with_tools.startswith("<tools>[") and "<|im_start|>user\nHello" in with_tools


def test_llama_may_open_a_bare_call_with_its_python_tag() -> None:
    fmt = learn_calls(ChatTemplate(FAMILIES["llama3"]))
    assert fmt is not None and not fmt.start.strip()
    text = '<|python_tag|>{"name": "get_time", "parameters": {"zone": "CET"}}'
    parser = NativeCalls(fmt, [WEATHER, TIME], "auto")
    out = [p for i in range(0, len(text), 4) for p in parser.feed(text[i:i + 4], ())]
    out += parser.finish(complete=True)
    assert [(p.call.name, p.call.arguments) for p in out if p.call] == [
        ("get_time", '{"zone": "CET"}')]
    assert "".join(p.text for p in out) == ""
