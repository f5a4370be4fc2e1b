"""Chat turns as chat templates expect them: the shape transformers passes."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ...types import ChatMessage

__all__ = ["messages_for_template", "tools_for_template"]


def _arguments(raw: Any) -> Any:
    """``function.arguments`` as a mapping, as transformers passes it (OpenAI sends
    JSON text); text that is not a JSON object stays text."""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return raw
        return parsed if isinstance(parsed, dict) else raw
    return copy.deepcopy(raw)


def messages_for_template(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Chat turns as template dicts: ``developer`` is ``system``; tool calls carry
    their arguments as a mapping; an assistant turn's reasoning is its
    ``reasoning_content``; a ``tool`` turn names the call (``tool_call_id``) and,
    where known, the function (``name``)."""
    names = {c.get("id"): c.get("function", {}).get("name")
             for m in messages for c in m.tool_calls or () if c.get("id")}
    turns: list[dict[str, Any]] = []
    for m in messages:
        turn: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role,
                                "content": m.content}
        if m.name:
            turn["name"] = m.name
        if m.tool_calls:
            turn["tool_calls"] = [_tool_call(c) for c in m.tool_calls]
        if m.tool_call_id:
            turn["tool_call_id"] = m.tool_call_id
            if "name" not in turn and names.get(m.tool_call_id):
                turn["name"] = names[m.tool_call_id]
        if m.reasoning:
            turn["reasoning_content"] = m.reasoning
        turns.append(turn)
    return turns


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = dict(call.get("function") or {})
    function["arguments"] = _arguments(function.get("arguments", {}))
    return {"id": call.get("id", ""), "type": call.get("type", "function"),
            "function": function}


def tools_for_template(tools: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Tool definitions, copied (a template may change what it is given)."""
    return copy.deepcopy([dict(t) for t in tools]) if tools else None
