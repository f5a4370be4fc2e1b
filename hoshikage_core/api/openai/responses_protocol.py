"""The Responses API wire format (``POST /v1/responses``): the request body,
validated and turned into a :class:`ChatRequest`.

``input`` is a string or a list of items: messages, the function calls an earlier
answer made and their outputs, and earlier reasoning. Unknown fields are accepted
and ignored; tools other than functions, and input other than text, are a 400
naming them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...errors import InvalidRequestError
from ...serving import (
    ANY_OBJECT,
    ChatRequest,
    NamedTool,
    Sampling,
    ToolChoice,
    ToolSpec,
    checked_schema,
)
from ...types import ChatMessage
from ..wire import KeepAlive

__all__ = ["ResponsesRequest", "input_messages"]

TEXT_PARTS = ("input_text", "output_text", "text", "summary_text", "reasoning_text", "refusal")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Part(_Open):
    type: str
    text: str | None = None
    refusal: str | None = None


class Item(_Open):
    """An input item; which fields matter depends on ``type`` (a message if absent)."""

    type: str | None = None
    role: Literal["user", "system", "developer", "assistant"] | None = None
    content: str | list[Part] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | list[Part] | None = None
    summary: list[Part] | None = None


class FunctionTool(_Open):
    """A function tool, or a ``namespace`` grouping function tools (Codex CLI sends one)."""

    type: str
    name: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    tools: list[FunctionTool] | None = None


class NamedFunction(_Open):
    type: str
    name: str | None = None


class TextFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class TextConfig(_Open):
    format: TextFormat | None = None


class ReasoningConfig(_Open):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: str | None = None


class ResponsesRequest(_Open):
    """``POST /v1/responses``."""

    model: str = Field(min_length=1)
    input: str | list[Item]
    instructions: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedFunction | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    stream: bool = False
    store: bool | None = None
    metadata: dict[str, str] | None = None
    previous_response_id: str | None = None
    keep_alive: KeepAlive = Field(
        None, description="Hoshikage extension: how long the model stays loaded after this "
        "request")

    def to_service(self, history: Sequence[ChatMessage] = ()) -> ChatRequest:
        """This request as the chat service takes it, after ``history`` (the stored
        conversation of ``previous_response_id``)."""
        system = [ChatMessage(role="system", content=self.instructions)] \
            if self.instructions else []
        effort = self.reasoning.effort if self.reasoning else None
        return ChatRequest(
            model=self.model,
            messages=[*system, *history, *input_messages(self.input)],
            tools=self._tools(),
            tool_choice=self._tool_choice(),
            parallel_tool_calls=self.parallel_tool_calls,
            response_schema=self._schema(),
            sampling=Sampling(max_tokens=self.max_output_tokens,
                              temperature=self.temperature, top_p=self.top_p),
            keep_alive=self.keep_alive,
            reasoning_effort="high" if effort == "xhigh" else effort,
        )

    def namespaces(self) -> dict[str, str]:
        """The namespace of each function offered inside one (for its calls' items)."""
        return {inner.name: tool.name for tool in self.tools or () if tool.type == "namespace"
                and tool.name for inner in tool.tools or () if inner.name}

    def _tools(self) -> tuple[ToolSpec, ...]:
        specs: list[ToolSpec] = []
        for i, tool in enumerate(self.tools or ()):
            if tool.type != "namespace":
                specs.append(_function(tool, f"tools[{i}]"))
                continue
            for j, inner in enumerate(tool.tools or ()):  # a group: its functions, by name
                spec = _function(inner, f"tools[{i}].tools[{j}]")
                described = f"{tool.description}\n{spec.description or ''}".strip() \
                    if tool.description else spec.description
                specs.append(ToolSpec(spec.name, described, spec.parameters))
        names = [spec.name for spec in specs]
        if len(set(names)) < len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise InvalidRequestError(f"tools offer the function {twice[0]!r} twice",
                                      param="tools")
        return tuple(specs)

    def _tool_choice(self) -> ToolChoice | None:
        choice = self.tool_choice
        if not isinstance(choice, NamedFunction):
            return choice
        if choice.type != "function" or not choice.name:
            raise InvalidRequestError(
                f"tool_choice of type '{choice.type}' is not supported; name a function: "
                '{"type": "function", "name": ...}', param="tool_choice")
        return NamedTool(choice.name)

    def _schema(self) -> dict[str, Any] | None:
        answer_format = self.text.format if self.text else None
        if answer_format is None or answer_format.type == "text":
            return None
        if answer_format.type == "json_object":
            return ANY_OBJECT
        if answer_format.schema_ is None:
            raise InvalidRequestError("text.format of type 'json_schema' needs a 'schema'",
                                      param="text.format.schema")
        return checked_schema(answer_format.schema_, param="text.format.schema")


def _function(tool: FunctionTool, where: str) -> ToolSpec:
    if tool.type != "function":
        raise InvalidRequestError(
            f"{where} is of type '{tool.type}'; Hoshikage runs function tools only (the "
            "client runs them)", param=f"{where}.type")
    if not tool.name:
        raise InvalidRequestError(f"{where} needs a name", param=f"{where}.name")
    return ToolSpec(tool.name, tool.description,
                    tool.parameters or {"type": "object", "properties": {}})


def input_messages(given: str | list[Item]) -> list[ChatMessage]:
    """``input`` as chat turns: function calls join the assistant turn they follow,
    their outputs become ``tool`` turns, reasoning goes with the next assistant turn."""
    if isinstance(given, str):
        return [ChatMessage(role="user", content=given)]
    out: list[ChatMessage] = []
    names: dict[str, str] = {}
    thought: str | None = None
    for i, item in enumerate(given):
        kind = item.type or "message"
        if kind == "message":
            if item.role is None:
                raise InvalidRequestError(f"input[{i}] is a message without a role",
                                          param=f"input[{i}].role")
            text = _text(item.content, f"input[{i}].content")
            out.append(ChatMessage(role=item.role, content=text,
                                   reasoning=thought if item.role == "assistant" else None))
            thought = None if item.role == "assistant" else thought
        elif kind == "function_call":
            if not item.call_id or not item.name:
                raise InvalidRequestError(f"input[{i}]: a function_call needs a call_id and a "
                                          "name", param=f"input[{i}]")
            names[item.call_id] = item.name
            call = {"id": item.call_id, "type": "function",
                    "function": {"name": item.name, "arguments": item.arguments or "{}"}}
            last = out[-1] if out else None
            if last is not None and last.role == "assistant":
                out[-1] = dataclasses.replace(last, tool_calls=[*(last.tool_calls or ()), call])
            else:
                out.append(ChatMessage(role="assistant", content="", tool_calls=[call],
                                       reasoning=thought))
                thought = None
        elif kind == "function_call_output":
            if not item.call_id:
                raise InvalidRequestError(f"input[{i}]: a function_call_output needs the "
                                          "call_id it answers", param=f"input[{i}].call_id")
            out.append(ChatMessage(role="tool", content=_text(item.output, f"input[{i}].output"),
                                   tool_call_id=item.call_id, name=names.get(item.call_id)))
        elif kind == "reasoning":
            parts = item.content if isinstance(item.content, list) and item.content \
                else item.summary
            thought = _text(parts, f"input[{i}].content")
        else:
            raise InvalidRequestError(f"input[{i}] is of type '{kind}', which Hoshikage does not "
                                      "take", param=f"input[{i}].type")
    return out


def _text(content: str | list[Part] | None, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for j, part in enumerate(content):
        if part.type not in TEXT_PARTS:
            raise InvalidRequestError(
                f"{where}[{j}] is of type '{part.type}': the models Hoshikage serves read text "
                "only", param=f"{where}[{j}].type")
        texts.append(part.text if part.text is not None else part.refusal or "")
    return "".join(texts)
