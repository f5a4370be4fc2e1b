"""Anthropic Messages wire format: request bodies, validated and turned into a
:class:`ChatRequest`.

Unknown fields are accepted and ignored (logged at debug by the router); known
ones are strict about types. Content blocks are read by their ``type``; a block
a text model cannot take (an image, a document) is a 400 naming it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...errors import InvalidRequestError
from ...serving import ChatRequest, NamedTool, Sampling, ToolChoice, ToolSpec, checked_schema
from ...types import ChatMessage

__all__ = ["MessagesRequest", "CountTokensRequest", "without_billing_header"]

# Claude Code starts its system prompt with this line, which changes on every
# request; left in, no prefix cache could ever reuse the prompt from turn to turn.
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
BILLING_HEADER = re.compile(r"^x-anthropic-billing-header:[^\n]*(\n|$)", re.MULTILINE)


def without_billing_header(text: str) -> str:
    """``text`` without Claude Code's per-request ``x-anthropic-billing-header`` lines."""
    return BILLING_HEADER.sub("", text)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Block(_Open):
    """A content block; which fields matter depends on ``type``."""

    type: str
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None
    tool_use_id: str | None = None
    content: str | list[Block] | None = None
    is_error: bool | None = None
    thinking: str | None = None
    signature: str | None = None


class MessageIn(_Open):
    role: Literal["user", "assistant", "system"]
    """``system`` mid-conversation: Claude Code's ``mid-conversation-system`` beta."""
    content: str | list[Block]


class ToolIn(_Open):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}})
    type: str | None = None


class ToolChoiceIn(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class ThinkingIn(_Open):
    type: Literal["enabled", "disabled", "adaptive", "between_tools"]
    budget_tokens: int | None = Field(None, ge=0)
    display: Literal["summarized", "omitted"] | None = None


class OutputFormatIn(_Open):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfigIn(_Open):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: OutputFormatIn | None = None


class CountTokensRequest(_Open):
    """``POST /v1/messages/count_tokens``."""

    model: str = Field(min_length=1)
    messages: list[MessageIn] = Field(min_length=1)
    system: str | list[Block] | None = None
    tools: list[ToolIn] | None = None
    tool_choice: ToolChoiceIn | None = None
    thinking: ThinkingIn | None = None
    output_config: OutputConfigIn | None = None
    output_format: OutputFormatIn | None = Field(
        None, description="the structured-outputs beta's name for output_config.format")

    def to_service(self) -> ChatRequest:
        """This request as the chat service takes it."""
        return ChatRequest(model=self.model, **self._chat_fields())

    def _chat_fields(self) -> dict[str, Any]:
        messages = self._system() + _conversation(self.messages)
        tools = tuple(_tool(t, i) for i, t in enumerate(self.tools or ()))
        choice, parallel = _tool_choice(self.tool_choice)
        fields: dict[str, Any] = {"messages": messages, "tools": tools, "tool_choice": choice,
                                  "parallel_tool_calls": parallel}
        config = self.output_config or OutputConfigIn()
        if config.effort is not None:
            fields["reasoning_effort"] = EFFORTS[config.effort]
        if self.thinking is not None and self.thinking.type == "disabled":
            fields["reasoning_effort"] = "none"
        elif self.thinking is not None and self.thinking.type == "enabled":
            fields["reasoning_budget"] = self.thinking.budget_tokens
            fields["chat_template_kwargs"] = {"enable_thinking": True}
        answer_format = config.format or self.output_format
        if answer_format is not None:
            where = "output_config.format.schema" if config.format else "output_format.schema"
            fields["response_schema"] = checked_schema(answer_format.schema_, param=where)
        return fields

    def shows_thinking(self) -> bool:
        """False when the client asked for thinking to be left out (``display: omitted``)."""
        return self.thinking is None or self.thinking.display != "omitted"

    def _system(self) -> list[ChatMessage]:
        system = self.system
        if isinstance(system, list):
            system = "\n".join(t for t in (without_billing_header(text) for text in
                                           _texts(system, "system")) if t)
        elif system is not None:
            system = without_billing_header(system)
        return [ChatMessage(role="system", content=system)] if system else []


class MessagesRequest(CountTokensRequest):
    """``POST /v1/messages``."""

    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(None, ge=0.0, le=1.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)
    stream: bool = False
    metadata: dict[str, Any] | None = None

    def to_service(self) -> ChatRequest:
        return ChatRequest(
            model=self.model,
            sampling=Sampling(max_tokens=self.max_tokens, temperature=self.temperature,
                              top_p=self.top_p, top_k=self.top_k,
                              stop=tuple(self.stop_sequences or ())),
            **self._chat_fields())


def _tool(tool: ToolIn, index: int) -> ToolSpec:
    if tool.type not in (None, "custom"):
        raise InvalidRequestError(
            f"tools[{index}] is of type '{tool.type}'; Hoshikage runs no server tools, only "
            "client tools (with an input_schema)", param=f"tools[{index}].type")
    return ToolSpec(tool.name, tool.description, tool.input_schema)


def _tool_choice(choice: ToolChoiceIn | None) -> tuple[ToolChoice | None, bool | None]:
    if choice is None:
        return None, None
    parallel = False if choice.disable_parallel_tool_use else None
    if choice.type == "tool":
        if not choice.name:
            raise InvalidRequestError("tool_choice of type 'tool' needs a name",
                                      param="tool_choice.name")
        return NamedTool(choice.name), parallel
    mapped: dict[str, ToolChoice] = {"auto": "auto", "any": "required", "none": "none"}
    return mapped[choice.type], parallel


def _conversation(messages: list[MessageIn]) -> list[ChatMessage]:
    """Anthropic turns as chat turns: a user turn's tool results become ``tool`` turns
    (before its text), an assistant turn's ``tool_use`` blocks its tool calls. A
    ``system`` turn mid-conversation is told to the model as Claude Code does without
    that beta, a ``<system-reminder>`` in the user's turn (templates take system
    messages only first); consecutive user turns are one turn, as Anthropic reads them."""
    names: dict[str, str] = {}  # tool_use id -> the function it called
    out: list[ChatMessage] = []
    for i, message in enumerate(messages):
        blocks = ([Block(type="text", text=message.content)]
                  if isinstance(message.content, str) else message.content)
        if message.role == "assistant":
            out.append(_assistant(blocks, i, names))
        elif message.role == "system":
            reminder = without_billing_header("\n".join(_texts(blocks, f"messages[{i}].content")))
            out.append(ChatMessage(role="user",
                                   content=f"<system-reminder>\n{reminder}\n</system-reminder>"))
        else:
            out.extend(_user(blocks, i, names))
    return _joined_user_turns(out)


def _joined_user_turns(turns: list[ChatMessage]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for turn in turns:
        if out and turn.role == "user" and out[-1].role == "user":
            out[-1] = ChatMessage(role="user", content=f"{out[-1].content}\n{turn.content}")
        else:
            out.append(turn)
    return out


def _texts(blocks: list[Block], where: str) -> list[str]:
    """The texts of system blocks (which must all be text)."""
    texts = []
    for j, block in enumerate(blocks):
        if block.type != "text" or block.text is None:
            raise InvalidRequestError(f"{where}[{j}] is of type '{block.type}'; system "
                                      "blocks must be text", param=f"{where}[{j}].type")
        texts.append(block.text)
    return texts


def _assistant(blocks: list[Block], i: int, names: dict[str, str]) -> ChatMessage:
    texts, thoughts, calls = [], [], []
    for j, block in enumerate(blocks):
        where = f"messages[{i}].content[{j}]"
        if block.type == "text":
            texts.append(block.text or "")
        elif block.type == "thinking":
            thoughts.append(block.thinking or "")
        elif block.type == "redacted_thinking":
            continue  # encrypted by Anthropic: nothing a local model could read
        elif block.type == "tool_use":
            if not block.id or not block.name:
                raise InvalidRequestError(f"{where}: a tool_use block needs an id and a name",
                                          param=where)
            names[block.id] = block.name
            calls.append({"id": block.id, "type": "function", "function": {
                "name": block.name,
                "arguments": json.dumps(block.input or {}, ensure_ascii=False)}})
        else:
            raise _unreadable(block, where)
    return ChatMessage(role="assistant", content="".join(texts), tool_calls=calls or None,
                       reasoning="".join(thoughts) or None)


def _user(blocks: list[Block], i: int, names: dict[str, str]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    texts: list[str] = []
    for j, block in enumerate(blocks):
        where = f"messages[{i}].content[{j}]"
        if block.type == "text":
            texts.append(block.text or "")
        elif block.type == "tool_result":
            if not block.tool_use_id:
                raise InvalidRequestError(f"{where}: a tool_result block needs a tool_use_id",
                                          param=f"{where}.tool_use_id")
            if texts:
                out.append(ChatMessage(role="user", content="".join(texts)))
                texts = []
            result = _result_text(block, where)
            if block.is_error:
                result = f"Error: {result}"
            out.append(ChatMessage(role="tool", content=result, tool_call_id=block.tool_use_id,
                                   name=names.get(block.tool_use_id)))
        else:
            raise _unreadable(block, where)
    if texts or not out:
        out.append(ChatMessage(role="user", content="".join(texts)))
    return out


def _result_text(block: Block, where: str) -> str:
    content = block.content
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for k, part in enumerate(content):
        if part.type != "text":
            raise _unreadable(part, f"{where}.content[{k}]")
        texts.append(part.text or "")
    return "\n".join(texts)


def _unreadable(block: Block, where: str) -> InvalidRequestError:
    what = {"image": "images", "document": "documents"}.get(block.type)
    if what is not None:
        return InvalidRequestError(f"{where} is of type '{block.type}': the models Hoshikage "
                                   f"serves read text only, not {what}", param=f"{where}.type")
    return InvalidRequestError(f"{where} is of type '{block.type}', which this endpoint does "
                               "not take here", param=f"{where}.type")
