"""The chat service's events as a Responses API response: its stream events (each
with a ``sequence_number``) and the response they add up to, by one fold, so a
streamed and a whole answer agree, item ids included."""

from __future__ import annotations

import time
import uuid
from typing import Any

from ...errors import HoshikageError
from ...serving import (
    ChatEvent,
    ChoiceEnd,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCallArguments,
    ToolCallStart,
)
from ...types import ChatMessage, Usage

__all__ = ["ResponseFold", "response_usage"]


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def response_usage(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_tokens},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.total_tokens}


class ResponseFold:
    """Feed chat events; get stream events back, and the response so far.

    ``echo`` holds the request's settings a response repeats (instructions, tools,
    tool_choice, temperature ...); ``namespaces`` the namespace of functions offered
    in one."""

    def __init__(self, model: str, echo: dict[str, Any],
                 namespaces: dict[str, str] | None = None) -> None:
        self._namespaces = namespaces or {}
        self.response: dict[str, Any] = {
            "id": _id("resp"), "object": "response", "created_at": int(time.time()),
            "status": "in_progress", "model": model, "output": [], "output_text": "",
            "error": None, "incomplete_details": None, "usage": None, **echo}
        self._sequence = 0
        self._open: dict[str, Any] | None = None

    def start(self) -> list[dict[str, Any]]:
        return [self._event("response.created", response=self._snapshot()),
                self._event("response.in_progress", response=self._snapshot())]

    def feed(self, event: ChatEvent) -> list[dict[str, Any]]:
        if isinstance(event, ReasoningDelta) and event.text:
            return self._into("reasoning", event.text)
        if isinstance(event, TextDelta) and event.text:
            self.response["output_text"] += event.text
            return self._into("message", event.text)
        if isinstance(event, ToolCallStart):
            item = {"id": _id("fc"), "type": "function_call", "status": "in_progress",
                    "call_id": event.id, "name": event.name, "arguments": ""}
            if event.name in self._namespaces:
                item["namespace"] = self._namespaces[event.name]
            return self._close() + self._begin(item)
        if isinstance(event, ToolCallArguments) and self._open is not None:
            self._open["arguments"] += event.arguments
            return [self._event("response.function_call_arguments.delta",
                                **self._where(), delta=event.arguments)]
        if isinstance(event, ChoiceEnd):
            out = self._close()
            self.response["usage"] = response_usage(event.usage)
            if event.finish_reason == "length":
                self.response.update(status="incomplete",
                                     incomplete_details={"reason": "max_output_tokens"})
            else:
                self.response["status"] = "completed"
            return out
        if isinstance(event, StreamEnd):
            kind = "response.incomplete" if self.response["status"] == "incomplete" \
                else "response.completed"
            return [self._event(kind, response=self._snapshot())]
        return []

    def failed(self, err: HoshikageError) -> dict[str, Any]:
        """The stream's last event when the generation failed half-way."""
        self.response.update(status="failed", error={"code": err.code or err.error_type,
                                                     "message": err.message})
        return self._event("response.failed", response=self._snapshot())

    def history(self) -> list[ChatMessage]:
        """The output as chat turns, for a later ``previous_response_id``."""
        text, thought, calls = "", None, []
        for item in self.response["output"]:
            if item["type"] == "reasoning":
                thought = "".join(c["text"] for c in item["content"])
            elif item["type"] == "message":
                text += "".join(c["text"] for c in item["content"])
            else:
                calls.append({"id": item["call_id"], "type": "function",
                              "function": {"name": item["name"],
                                           "arguments": item["arguments"]}})
        return [ChatMessage(role="assistant", content=text, tool_calls=calls or None,
                            reasoning=thought)]

    # -- items ------------------------------------------------------------------

    def _into(self, kind: str, text: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self._open is None or self._open["type"] != kind:
            out = self._close()
            item: dict[str, Any]
            if kind == "reasoning":
                item = {"id": _id("rs"), "type": "reasoning", "summary": [], "content": [],
                        "status": "in_progress"}
                part: dict[str, Any] = {"type": "reasoning_text", "text": ""}
            else:
                item = {"id": _id("msg"), "type": "message", "role": "assistant",
                        "status": "in_progress", "content": []}
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out += self._begin(item)
            item["content"].append(part)
            out.append(self._event("response.content_part.added", **self._where(),
                                   content_index=0, part=dict(part)))
        assert self._open is not None
        self._open["content"][0]["text"] += text
        name, extra = _text_events(kind)
        out.append(self._event(f"response.{name}.delta", **self._where(),
                               content_index=0, delta=text, **extra))
        return out

    def _begin(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        self._open = item
        self.response["output"].append(item)
        return [self._event("response.output_item.added", output_index=self._index(),
                            item=_copy(item))]

    def _close(self) -> list[dict[str, Any]]:
        item = self._open
        if item is None:
            return []
        out = []
        if item["type"] == "function_call":
            out.append(self._event("response.function_call_arguments.done", **self._where(),
                                   arguments=item["arguments"], name=item["name"]))
        else:
            content = item["content"][0]
            name, extra = _text_events(item["type"])
            out.append(self._event(f"response.{name}.done", **self._where(),
                                   content_index=0, text=content["text"], **extra))
            out.append(self._event("response.content_part.done", **self._where(),
                                   content_index=0, part=dict(content)))
        item["status"] = "completed"
        out.append(self._event("response.output_item.done", output_index=self._index(),
                               item=_copy(item)))
        self._open = None
        return out

    def _where(self) -> dict[str, Any]:
        assert self._open is not None
        return {"item_id": self._open["id"], "output_index": self._index()}

    def _index(self) -> int:
        return len(self.response["output"]) - 1

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(self) -> dict[str, Any]:
        return {**self.response, "output": [_copy(i) for i in self.response["output"]]}


def _text_events(item_type: str) -> tuple[str, dict[str, Any]]:
    """The part name of a reasoning or message item's text events, and their extra
    fields (message text carries ``logprobs``)."""
    if item_type == "reasoning":
        return "reasoning_text", {}
    return "output_text", {"logprobs": []}


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    copied = dict(item)
    if "content" in copied:
        copied["content"] = [dict(c) for c in copied["content"]]
    return copied
