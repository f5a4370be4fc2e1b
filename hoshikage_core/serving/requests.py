"""What a chat or a text completion asks for, in no dialect's shape.

The API dialects (OpenAI today) translate their wire requests into these; library
users build them directly or through ``Hoshikage.chat`` / ``Hoshikage.complete``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..types import ChatMessage

__all__ = ["ChatRequest", "NamedTool", "Sampling", "TextRequest", "ToolChoice", "ToolSpec"]


@dataclass(frozen=True)
class Sampling:
    """How tokens are chosen and when a generation ends (``None``: the model's default)."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    """With ``n`` choices, choice ``i`` uses ``seed + i``: different, and reproducible."""
    stop: Sequence[str] = ()
    logit_bias: Mapping[int, float] | None = None

    def fields(self) -> dict[str, Any]:
        """As keyword arguments of a ``GenerationRequest``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: its name, what it does, its JSON-schema parameters."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}})

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI tool definition chat templates expect."""
        function: dict[str, Any] = {"name": self.name, "parameters": dict(self.parameters)}
        if self.description is not None:
            function["description"] = self.description
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class NamedTool:
    """``tool_choice`` naming one function: the answer must call it."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedTool


@dataclass(frozen=True)
class ChatRequest:
    """A chat: the conversation, the tools on offer, the answer's shape, ``n`` choices.

    ``response_schema`` is a JSON schema the answer must satisfy (``{"type":
    "object"}``: any JSON object); ``logprobs`` asks for each token's log
    probability and that many alternatives.
    """

    model: str
    messages: Sequence[ChatMessage]
    tools: Sequence[ToolSpec] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    """False: at most one call an answer. True: a required call may be several.
    None (not said): as llama-server, a required call is one; ``auto`` answers keep
    every call the model writes."""
    response_schema: Mapping[str, Any] | None = None
    n: int = 1
    logprobs: int | None = None
    sampling: Sampling = Sampling()
    keep_alive: float | None = None
    """Seconds the model stays loaded after this request (instead of its idle_timeout)."""
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Extra chat template variables (``enable_thinking`` ...), over the model's own."""
    reasoning_format: Literal["auto", "none"] | None = None
    """``auto``: thinking comes apart from the answer (``reasoning``); ``none``: left in
    the text as the model wrote it. ``None``: the model's setting."""
    reasoning_budget: int | None = None
    """Tokens the model may think before its think block is closed for it."""
    reasoning_effort: str | None = None
    """OpenAI's ``reasoning_effort``: passed to templates that read it; for the rest,
    ``none``/``minimal`` turn thinking off and ``low``/``medium`` set a budget."""


@dataclass(frozen=True)
class TextRequest:
    """A text completion of one or several prompts (text, or token ids), ``n`` each."""

    model: str
    prompts: Sequence[str | Sequence[int]]
    n: int = 1
    echo: bool = False
    """Put each prompt's text before its completions."""
    suffix: str | None = None
    logprobs: int | None = None
    sampling: Sampling = Sampling()
    keep_alive: float | None = None
