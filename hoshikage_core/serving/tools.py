"""Function calling for models without native tool support.

- ``tool_choice`` ``required`` or a named function: the output is constrained
  (JSON schema → grammar) to ``{"name": ..., "arguments": {...}}``, so it is
  always a valid call with arguments that match the function's parameters.
- ``auto``: the model is told how to call (``<tool_call>{...}</tool_call>``)
  and its answer is parsed; a well-formed call to a known function becomes
  ``tool_calls``, anything else is ordinary content.
- ``none``: tools are not offered.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..types import ChatMessage
from .events import ToolCall
from .requests import NamedTool, ToolChoice, ToolSpec

__all__ = ["ToolPlan", "might_be_a_call", "parse_tool_calls", "plan_tools"]

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_BLOCK = re.compile(re.escape(OPEN) + r"\s*(.*?)\s*(?:" + re.escape(CLOSE) + r"|$)", re.S)

Mode = Literal["none", "auto", "forced"]


@dataclass(frozen=True)
class ToolPlan:
    """How one chat request uses its tools."""

    mode: Mode
    tools: tuple[ToolSpec, ...] = ()
    json_schema: dict[str, Any] | None = None  # the constraint in forced mode

    def messages(self, messages: list[ChatMessage], *, tagged: bool = False
                 ) -> list[ChatMessage]:
        """``messages`` with the calling instructions added to the system turn.
        ``tagged``: ask for ``<tool_call>`` blocks even when a call is required (a
        grammar in that format keeps the answer to it)."""
        if self.mode == "none":
            return messages
        text = _instructions(self.tools, forced=self.mode == "forced" and not tagged)
        if messages and messages[0].role in ("system", "developer"):
            first = messages[0]
            merged = ChatMessage(first.role, f"{first.content}\n\n{text}".strip(), first.name)
            return [merged, *messages[1:]]
        return [ChatMessage("system", text), *messages]

    def parse(self, text: str) -> list[ToolCall]:
        """The calls in a finished answer (always one in forced mode)."""
        if self.mode == "none":
            return []
        return parse_tool_calls(text, self.tools, bare_json=True)


def plan_tools(tools: Sequence[ToolSpec], tool_choice: ToolChoice | None) -> ToolPlan:
    """How a request with ``tools`` and ``tool_choice`` calls them (the caller checked
    that a named function is among the tools)."""
    offered = tuple(tools)
    choice = tool_choice or ("auto" if offered else "none")
    if not offered or choice == "none":
        return ToolPlan("none")
    if isinstance(choice, NamedTool):
        chosen = tuple(t for t in offered if t.name == choice.name)
        return ToolPlan("forced", chosen, _call_schema(chosen))
    if choice == "required":
        return ToolPlan("forced", offered, _call_schema(offered))
    return ToolPlan("auto", offered)


def _call_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    options = [{
        "type": "object",
        "properties": {"name": {"const": t.name},
                       "arguments": dict(t.parameters) or {"type": "object"}},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    } for t in tools]
    return options[0] if len(options) == 1 else {"anyOf": options}


def _instructions(tools: Sequence[ToolSpec], *, forced: bool) -> str:
    described = json.dumps([{"name": t.name, "description": t.description or "",
                             "parameters": dict(t.parameters)} for t in tools])
    if forced:
        return (f"You must call one of these functions: {described}\n"
                'Answer only with JSON: {"name": <function name>, "arguments": {...}}')
    return (f"You can call these functions: {described}\n"
            f"To call one, answer only with {OPEN}"
            '{"name": <function name>, "arguments": {...}}'
            f"{CLOSE}. Otherwise answer normally.")


def parse_tool_calls(text: str, tools: Sequence[ToolSpec], *,
                     bare_json: bool) -> list[ToolCall]:
    """Calls to known functions in ``text``: ``<tool_call>`` blocks, or (with
    ``bare_json``) a whole answer that is one JSON call or a list of them."""
    known = {t.name for t in tools}
    candidates: list[Any] = []
    blocks = _BLOCK.findall(text)
    if blocks:
        candidates = [_loads(b) for b in blocks]
    elif bare_json:
        whole = _loads(text.strip())
        candidates = whole if isinstance(whole, list) else [whole]
    calls = []
    for item in candidates:
        if not isinstance(item, dict) or item.get("name") not in known:
            return []  # not (entirely) a call: treat the answer as content
        arguments = item.get("arguments", item.get("parameters", {}))
        if isinstance(arguments, str):
            parsed = _loads(arguments)
            if parsed is None:
                return []
            arguments = parsed
        calls.append(ToolCall(f"call_{uuid.uuid4().hex[:24]}", item["name"],
                              json.dumps(arguments, ensure_ascii=False)))
    return calls


def might_be_a_call(text: str) -> bool:
    """Whether a stream starting with ``text`` could turn out to be a tool call."""
    head = text.lstrip()
    return head.startswith(("{", "[")) or head.startswith(OPEN) or OPEN.startswith(head)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
