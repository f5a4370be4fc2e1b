"""A chat template, rendered as its authors intended, and what it can show.

Real templates differ in what they render: some have no system role, no tools,
no tool calls or no tool results; some want ``arguments`` as a mapping, others
as text. Which is learned once per template by rendering probes, and a
conversation the template cannot show is adapted so nothing is lost: a system
turn joins the first user turn, tool calls and tool results become text in the
turns the template does show, and turns of one role in a row are joined.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from ...types import ChatMessage
from .messages import messages_for_template, tools_for_template
from .named import NAMED_TEMPLATES
from .sandbox import TemplateError, render_bounded, template_environment

__all__ = ["ChatTemplate", "TemplateCaps"]

_NEEDLE = "hoshikage_probe_7f3a"


@dataclass(frozen=True)
class TemplateCaps:
    """What a template renders of a conversation."""

    system_role: bool = True
    tools: bool = False
    """It shows the tool definitions it is given."""
    tool_calls: bool = False
    """It shows an assistant turn's tool calls."""
    tool_responses: bool = False
    """It shows ``tool`` turns."""
    object_arguments: bool = True
    """It wants ``function.arguments`` as a mapping (else as JSON text)."""


class ChatTemplate:
    """A Jinja chat template (a GGUF's ``tokenizer.chat_template`` or a named one),
    compiled once in a bounded sandbox; ``stops`` are extra stop strings for
    templates whose end-of-turn marker is not a special token.

    A template that cannot compile raises :class:`TemplateError` here.
    """

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "",
                 stops: tuple[str, ...] = (),
                 variants: Mapping[str, ChatTemplate] | None = None) -> None:
        try:
            self._template = template_environment().from_string(source)
        except Exception as exc:  # jinja's syntax errors
            raise TemplateError(f"the chat template does not compile: {exc}") from exc
        self.source = source
        self.bos_token, self.eos_token, self.stops = bos_token, eos_token, stops
        self.variants = dict(variants or {})
        """Named variants (a GGUF's ``tokenizer.chat_template.NAME``): transformers
        renders a chat with tools through ``tool_use`` when there is one."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its source, compiled again where it lands (a cluster engine sends
        a replica's template to the front end)."""
        return (_rebuild, (self.source, self.bos_token, self.eos_token, self.stops,
                           self.variants))

    def for_tools(self, tools: bool) -> ChatTemplate:
        """The template to render with: the ``tool_use`` variant for a chat with tools,
        if there is one (transformers' choice), else this one."""
        return self.variants.get("tool_use", self) if tools else self

    @classmethod
    def named(cls, name: str, *, bos_token: str = "", eos_token: str = "") -> ChatTemplate:
        template = NAMED_TEMPLATES[name]
        return cls(template.jinja, stops=template.stops, bos_token=bos_token,
                   eos_token=eos_token)

    def render(self, messages: Sequence[ChatMessage],
               tools: Sequence[Mapping[str, Any]] | None = None, *,
               add_generation_prompt: bool = True,
               variables: Mapping[str, Any] | None = None) -> str:
        """The prompt for ``messages``; ``tools`` are shown only if the template shows
        tools (see :attr:`caps`); ``variables`` are extra template variables such as
        ``enable_thinking``. Raises :class:`TemplateError` if the template rejects
        the conversation."""
        caps, turns = self.caps, messages_for_template(messages)
        shown = tools_for_template(tools) if caps.tools else None
        first: TemplateError | None = None
        # as the template says it can show things, then ever more plainly: some
        # templates want roles to alternate even around tool results, or fail when
        # `tools` is None rather than absent
        for attempt in _plainer(caps):
            for omit_tools in (False, True) if shown is None else (False,):
                try:
                    return self._render(_adapt(turns, attempt), shown, add_generation_prompt,
                                        variables or {}, omit_tools=omit_tools)
                except TemplateError as exc:
                    first = first or exc
        assert first is not None
        raise first

    def _render(self, turns: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                add_generation_prompt: bool, variables: Mapping[str, Any], *,
                omit_tools: bool = False) -> str:
        context = {**copy.deepcopy(dict(variables)), "messages": turns,
                   "add_generation_prompt": add_generation_prompt,
                   "bos_token": self.bos_token, "eos_token": self.eos_token,
                   # what some templates read instead of `tools` (firefunction's)
                   "functions": json.dumps(tools, indent=2) if tools else "",
                   "datetime": datetime.now(timezone.utc).strftime("%b %d %Y %H:%M:%S GMT")}
        if not omit_tools:
            context["tools"] = tools
        return render_bounded(self._template, context)

    @cached_property
    def caps(self) -> TemplateCaps:
        """What this template renders, found by rendering probes (once)."""
        user = {"role": "user", "content": "hello"}

        def shows(needle: str, turns: list[dict[str, Any]], **more: Any) -> bool:
            try:
                return needle in self._render(turns, more.get("tools"), False, {})
            except TemplateError:
                return False

        tool = {"type": "function", "function": {
            "name": _NEEDLE, "description": "probe", "parameters": {
                "type": "object", "required": ["x"],
                "properties": {"x": {"type": "string", "description": "probe"}}}}}

        def render(turns: list[dict[str, Any]]) -> str:
            try:
                return self._render(turns, None, False, {})
            except TemplateError:
                return ""

        function, argument = f"{_NEEDLE}_fn", f"{_NEEDLE}_arg"

        def calling(arguments: Any) -> list[dict[str, Any]]:
            return [user, {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": function, "arguments": arguments}}]}]

        as_object = render(calling({"x": argument}))
        as_text = render(calling(json.dumps({"x": argument})))
        tool_calls = function in as_object or function in as_text
        # a template that prints arguments as they are shows a mapping as Python's repr
        object_arguments = (argument in as_object and "'x'" not in as_object) \
            or argument not in as_text
        responses = [*calling({"x": "1"} if object_arguments else '{"x": "1"}'),
                     {"role": "tool", "tool_call_id": "call_1", "name": function,
                      "content": _NEEDLE}]
        return TemplateCaps(
            system_role=shows(_NEEDLE, [{"role": "system", "content": _NEEDLE}, user]),
            tools=shows(_NEEDLE, [user], tools=[tool]),
            tool_calls=tool_calls,
            tool_responses=shows(_NEEDLE, responses),
            object_arguments=object_arguments,
        )


def _plainer(caps: TemplateCaps) -> list[TemplateCaps]:
    """``caps``, then with tool results, then tool calls, then the system turn shown
    as text in other turns: each a plainer conversation than the one before."""
    steps = [caps, replace(caps, tool_responses=False),
             replace(caps, tool_responses=False, tool_calls=False),
             replace(caps, tool_responses=False, tool_calls=False, system_role=False)]
    return [s for i, s in enumerate(steps) if s not in steps[:i]]


def _adapt(turns: list[dict[str, Any]], caps: TemplateCaps) -> list[dict[str, Any]]:
    """``turns`` as this template can show them, losing nothing."""
    adapted: list[dict[str, Any]] = []
    for turn in turns:
        turn = dict(turn)
        calls = turn.get("tool_calls")
        if calls and not caps.tool_calls:
            text = "\n".join(f'<tool_call>{json.dumps(_call_text(c), ensure_ascii=False)}'
                             "</tool_call>" for c in calls)
            turn["content"] = f"{turn['content']}\n{text}".strip()
            del turn["tool_calls"]
        elif calls and not caps.object_arguments:
            turn["tool_calls"] = [{**c, "function": {**c["function"], "arguments": json.dumps(
                c["function"]["arguments"], ensure_ascii=False)
                if not isinstance(c["function"]["arguments"], str)
                else c["function"]["arguments"]}} for c in calls]
        if turn["role"] == "tool" and not caps.tool_responses:
            response = {"tool_response": {k: v for k, v in (
                ("tool", turn.get("name")), ("tool_call_id", turn.get("tool_call_id")),
                ("content", turn["content"])) if v is not None}}
            turn = {"role": "user", "content": json.dumps(response, ensure_ascii=False)}
        adapted.append(turn)
    if not caps.system_role:
        adapted = _system_into_first_user(adapted)
    if not (caps.tool_responses and caps.system_role):
        adapted = _join_runs(adapted)
    return adapted


def _call_text(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function", {})
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    return {"name": function.get("name"), "arguments": arguments}


def _system_into_first_user(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    system = "\n\n".join(t["content"] for t in turns if t["role"] == "system" and t["content"])
    rest = [t for t in turns if t["role"] != "system"]
    if system:
        first = next((i for i, t in enumerate(rest) if t["role"] == "user"), None)
        if first is None:
            rest.insert(0, {"role": "user", "content": system})
        else:
            rest[first] = {**rest[first], "content": f"{system}\n\n{rest[first]['content']}"}
    return rest


def _join_runs(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain user turns in a row become one (templates that want roles to alternate)."""
    joined: list[dict[str, Any]] = []
    for turn in turns:
        previous = joined[-1] if joined else None
        if previous is not None and turn["role"] == previous["role"] == "user" \
                and set(turn) == set(previous) == {"role", "content"}:
            joined[-1] = {"role": "user",
                          "content": f"{previous['content']}\n\n{turn['content']}"}
        else:
            joined.append(turn)
    return joined


def _rebuild(source: str, bos_token: str, eos_token: str, stops: tuple[str, ...],
             variants: Mapping[str, ChatTemplate]) -> ChatTemplate:
    return ChatTemplate(source, bos_token=bos_token, eos_token=eos_token, stops=stops,
                        variants=variants)
