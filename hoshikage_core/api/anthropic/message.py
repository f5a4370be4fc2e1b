"""The chat service's events as an Anthropic message: stream events, and the message
they add up to (the same fold, so a streamed and a whole answer agree)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from ...serving import (
    ChatEvent,
    ChoiceEnd,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCallArguments,
    ToolCallStart,
)
from ...types import Usage

__all__ = ["MessageFold", "anthropic_usage", "tool_use_id"]

STOP_REASONS = {"length": "max_tokens", "tool_calls": "tool_use"}


def tool_use_id(call_id: str) -> str:
    """A tool call's id in Anthropic's ``toolu_`` form."""
    return "toolu_" + call_id.removeprefix("call_")


def signature(thinking: str) -> str:
    """A stable stand-in for Anthropic's signature: the same thinking, the same value."""
    return hashlib.sha256(thinking.encode()).hexdigest()[:32]


def anthropic_usage(usage: Usage) -> dict[str, int]:
    """Anthropic counts prompt tokens read from a cache apart from ``input_tokens``."""
    return {"input_tokens": usage.prompt_tokens - usage.cached_tokens,
            "output_tokens": usage.completion_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": usage.cached_tokens}


class MessageFold:
    """Feed chat events; get Anthropic stream events back and the message so far."""

    def __init__(self, model: str, *, show_thinking: bool = True) -> None:
        self._show_thinking = show_thinking
        self.message: dict[str, Any] = {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": anthropic_usage(Usage(0, 0))}
        self._open: dict[str, Any] | None = None
        self._arguments = ""

    def start(self) -> dict[str, Any]:
        return {"type": "message_start", "message": {**self.message, "content": []}}

    def feed(self, event: ChatEvent) -> list[dict[str, Any]]:
        if isinstance(event, ReasoningDelta) and event.text and self._show_thinking:
            return self._into("thinking", {"type": "thinking", "thinking": "", "signature": ""},
                              {"type": "thinking_delta", "thinking": event.text})
        if isinstance(event, TextDelta) and event.text:
            return self._into("text", {"type": "text", "text": ""},
                              {"type": "text_delta", "text": event.text})
        if isinstance(event, ToolCallStart):
            out = self._close()
            block = {"type": "tool_use", "id": tool_use_id(event.id), "name": event.name,
                     "input": {}}
            return out + self._begin(block)
        if isinstance(event, ToolCallArguments) and self._open is not None:
            self._arguments += event.arguments
            return [self._delta({"type": "input_json_delta",
                                 "partial_json": event.arguments})]
        if isinstance(event, ChoiceEnd):
            finish = event.finish_reason
            reason = STOP_REASONS.get(finish) or (
                "stop_sequence" if event.stop_sequence is not None else "end_turn")
            self.message.update(stop_reason=reason, stop_sequence=event.stop_sequence,
                                usage=anthropic_usage(event.usage))
            return [*self._close(), {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": event.stop_sequence},
                "usage": self.message["usage"]}]
        if isinstance(event, StreamEnd):
            return [{"type": "message_stop"}]
        return []

    def _into(self, kind: str, fresh: dict[str, Any],
              delta: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self._open is None or self._open["type"] != kind:
            out = self._close() + self._begin(fresh)
        assert self._open is not None
        field = "thinking" if kind == "thinking" else "text"
        self._open[field] += delta[field]
        return [*out, self._delta(delta)]

    def _begin(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        self._open = dict(block)
        self.message["content"].append(self._open)
        return [{"type": "content_block_start", "index": self._index(), "content_block": block}]

    def _delta(self, delta: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": self._index(), "delta": delta}

    def _close(self) -> list[dict[str, Any]]:
        block = self._open
        if block is None:
            return []
        out = []
        if block["type"] == "thinking":
            block["signature"] = signature(block["thinking"])
            out.append(self._delta({"type": "signature_delta",
                                    "signature": block["signature"]}))
        elif block["type"] == "tool_use":
            block["input"] = json.loads(self._arguments or "{}")
            self._arguments = ""
        out.append({"type": "content_block_stop", "index": self._index()})
        self._open = None
        return out

    def _index(self) -> int:
        return len(self.message["content"]) - 1
