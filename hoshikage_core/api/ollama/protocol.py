"""Ollama wire format: request bodies, validated, and turned into the services' requests.

Unknown fields are accepted and ignored (logged at debug by the routers), as
everywhere; known ones are strict about types, except ``options``, which is lax
about numbers as Ollama is. Images are refused with a 400: the models Hoshikage
serves read text only.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ...errors import InvalidRequestError
from ...serving import ChatRequest, NamedTool, Sampling, TextRequest, ToolChoice, ToolSpec
from ...types import ChatMessage
from .options import (
    Options,
    Think,
    answer_schema,
    checked_think,
    keep_alive_seconds,
    think_fields,
)

__all__ = ["ChatBody", "EmbedBody", "EmbeddingsBody", "GenerateBody", "MessageIn",
           "ShowBody", "conversation"]

OllamaKeepAlive = Annotated[float | None, BeforeValidator(keep_alive_seconds)]
"""Ollama's ``keep_alive``: unlike the other dialects', any negative value is forever."""
ThinkField = Annotated[Think | None, BeforeValidator(checked_think)]
Format = str | dict[str, Any] | None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class FunctionCallIn(_Open):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    index: int | None = None


class ToolCallIn(_Open):
    id: str | None = None
    function: FunctionCallIn


class MessageIn(_Open):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    thinking: str | None = None
    images: list[str] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _lower(cls, role: object) -> object:
        return role.lower() if isinstance(role, str) else role  # as Ollama reads roles


class FunctionIn(_Open):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}})


class ToolIn(_Open):
    type: Literal["function"] = "function"
    function: FunctionIn


class FunctionName(_Open):
    name: str = Field(min_length=1)


class NamedChoice(_Open):
    type: Literal["function"] = "function"
    function: FunctionName


def _no_images(images: list[str] | None, where: str) -> None:
    if images:
        raise InvalidRequestError(f"{where}: the models Hoshikage serves read text only, "
                                  "not images", param=where)


def conversation(messages: list[MessageIn]) -> list[ChatMessage]:
    """Ollama turns as chat turns: an assistant turn's calls get ids where they have
    none (their arguments as JSON text), and a ``tool`` turn answers the earliest open
    call of its ``tool_name`` (or, without one, the earliest open call)."""
    open_calls: list[tuple[str, str]] = []  # (id, function name), not yet answered
    out: list[ChatMessage] = []
    for i, message in enumerate(messages):
        _no_images(message.images, f"messages[{i}].images")
        calls = []
        for j, call in enumerate(message.tool_calls or ()):
            made = call.id or f"call_{i}_{j}"
            arguments = call.function.arguments
            calls.append({"id": made, "type": "function", "function": {
                "name": call.function.name,
                "arguments": arguments if isinstance(arguments, str)
                else json.dumps(arguments, ensure_ascii=False)}})
            open_calls.append((made, call.function.name))
        call_id, name = message.tool_call_id, message.tool_name
        if message.role == "tool":
            answered = next((c for c in open_calls if c[0] == call_id or (
                call_id is None and name in (None, c[1]))), None)
            if answered is not None:
                open_calls.remove(answered)
                call_id, name = answered[0], name or answered[1]
        out.append(ChatMessage(role=message.role, content=message.content or "",
                               name=name if message.role == "tool" else None,
                               tool_calls=calls or None,
                               tool_call_id=call_id if message.role == "tool" else None,
                               reasoning=message.thinking or None))
    return out


class _Generating(_Open):
    """What chat and generate share."""

    model: str = Field(min_length=1)
    format: Format = Field(None, description='"json" or a JSON schema the answer must meet')
    options: Options | None = None
    stream: bool | None = Field(None, description="default true: NDJSON lines")
    keep_alive: OllamaKeepAlive = Field(
        None, description='how long the model stays loaded after this request: "5m", '
        "seconds, 0 (unload right after), negative (forever)")
    think: ThinkField = Field(None, description='true, false, or "low", "medium", "high"')
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)

    def streams(self) -> bool:
        """Streamed unless ``"stream": false`` (Ollama's default is a stream)."""
        return self.stream is not False

    def _logprobs(self) -> int | None:
        return (self.top_logprobs or 0) if self.logprobs else None

    def _sampling(self, endpoint: str) -> Sampling:
        return (self.options or Options()).sampling(endpoint)


class ChatBody(_Generating):
    """``POST /api/chat``."""

    messages: list[MessageIn] | None = None
    tools: list[ToolIn] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedChoice | None = Field(
        None, description="Hoshikage extension (Ollama has none): 'required', or "
        "{\"type\": \"function\", \"function\": {\"name\": ...}}, makes the answer a call")

    def to_service(self, model: str) -> ChatRequest:
        """This request as the chat service takes it, for the configured ``model``."""
        choice: ToolChoice | None = (NamedTool(self.tool_choice.function.name)
                                     if isinstance(self.tool_choice, NamedChoice)
                                     else self.tool_choice)
        return ChatRequest(
            model=model, messages=conversation(self.messages or []),
            tools=tuple(ToolSpec(t.function.name, t.function.description,
                                 t.function.parameters) for t in self.tools or ()),
            tool_choice=choice, response_schema=answer_schema(self.format),
            logprobs=self._logprobs(), sampling=self._sampling("api/chat"),
            keep_alive=self.keep_alive, **think_fields(self.think))


class GenerateBody(_Generating):
    """``POST /api/generate``. ``template`` and ``context`` are accepted and ignored."""

    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    raw: bool | None = None
    images: list[str] | None = None
    template: str | None = Field(None, description="ignored: the model's own template is used")
    context: list[int] | None = Field(None, description="ignored (deprecated by Ollama)")

    def check(self) -> None:
        """400 for what cannot be served: images, and text modes with a system prompt
        or a format."""
        _no_images(self.images, "images")
        if self.plain() and self.system:
            raise InvalidRequestError("raw mode and suffix do not take a system prompt "
                                      "(the prompt is the text itself)", param="system")
        if self.plain() and answer_schema(self.format) is not None:
            raise InvalidRequestError("format needs the chat template: it cannot be "
                                      "combined with raw or suffix", param="format")

    def plain(self) -> bool:
        """A text completion (``raw``, or with a ``suffix``), not a chat turn."""
        return bool(self.raw or self.suffix)

    def to_chat(self, model: str) -> ChatRequest:
        """The prompt as a user turn (after ``system``), as Ollama renders it."""
        system = [ChatMessage("system", self.system)] if self.system else []
        return ChatRequest(model=model,
                           messages=[*system, ChatMessage("user", self.prompt or "")],
                           response_schema=answer_schema(self.format),
                           logprobs=self._logprobs(), sampling=self._sampling("api/generate"),
                           keep_alive=self.keep_alive, **think_fields(self.think))

    def to_text(self, model: str) -> TextRequest:
        """The prompt as raw text to complete (before ``suffix``, if one is given)."""
        return TextRequest(model=model, prompts=[self.prompt or ""], suffix=self.suffix or None,
                           logprobs=self._logprobs(), sampling=self._sampling("api/generate"),
                           keep_alive=self.keep_alive)


class EmbedBody(_Open):
    """``POST /api/embed``. ``truncate`` and ``options`` are accepted and ignored."""

    model: str = Field(min_length=1)
    input: str | list[str] | None = None
    truncate: bool | None = None
    options: dict[str, Any] | None = None
    keep_alive: OllamaKeepAlive = None
    dimensions: int | None = Field(None, ge=0, description="0: the model's own size")

    def inputs(self) -> list[str]:
        """The texts to embed (none for ``""`` or no input)."""
        if isinstance(self.input, str):
            return [self.input] if self.input else []
        return list(self.input or ())


class EmbeddingsBody(_Open):
    """``POST /api/embeddings`` (Ollama's older endpoint)."""

    model: str = Field(min_length=1)
    prompt: str | None = None
    options: dict[str, Any] | None = None
    keep_alive: OllamaKeepAlive = None


class ShowBody(_Open):
    """``POST /api/show``: ``model`` (or the older ``name``)."""

    model: str | None = None
    name: str | None = None
    verbose: bool | None = None

    def target(self) -> str:
        target = self.model or self.name
        if not target:
            raise InvalidRequestError("model is required", param="model")
        return target
