"""What a chat or completion yields, in no dialect's shape: events while it streams,
a result when it is done. A result is exactly the fold of the events, so an answer
streamed and one returned whole always agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..types import TokenLogprob, Usage

__all__ = ["ChatChoice", "ChatEvent", "ChatResult", "ChoiceEnd", "ChoiceFinish", "ChoiceStart",
           "ReasoningDelta", "StreamEnd", "TextChoice", "TextDelta", "TextResult", "ToolCall",
           "ToolCallArguments", "ToolCallStart"]

ChoiceFinish = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True)
class ChoiceStart:
    """Choice ``choice`` begins."""

    choice: int


@dataclass(frozen=True)
class TextDelta:
    """More of choice ``choice``'s text (with its tokens' log probabilities, if asked)."""

    choice: int
    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None
    echo: bool = False
    """The prompt itself, put before a completion (``echo``)."""


@dataclass(frozen=True)
class ReasoningDelta:
    """More of what choice ``choice`` thinks before it answers."""

    choice: int
    text: str


@dataclass(frozen=True)
class ToolCallStart:
    """Choice ``choice`` calls function ``name``; call number ``index`` of the answer."""

    choice: int
    index: int
    id: str
    name: str


@dataclass(frozen=True)
class ToolCallArguments:
    """More of the JSON arguments of call ``index``."""

    choice: int
    index: int
    arguments: str


@dataclass(frozen=True)
class ChoiceEnd:
    """Choice ``choice`` is done, and why; ``usage`` counts its generation."""

    choice: int
    finish_reason: ChoiceFinish
    usage: Usage
    stop_sequence: str | None = None
    """Which of the request's stop sequences ended the text, if one did."""


@dataclass(frozen=True)
class StreamEnd:
    """Everything is done; ``usage`` totals all choices (each prompt counted once)."""

    usage: Usage


ChatEvent = (ChoiceStart | TextDelta | ReasoningDelta | ToolCallStart | ToolCallArguments
             | ChoiceEnd | StreamEnd)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """JSON text, as OpenAI's ``function.arguments``."""


@dataclass(frozen=True)
class ChatChoice:
    index: int
    content: str | None
    """The answer's text; ``None`` when it is tool calls."""
    finish_reason: ChoiceFinish
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    reasoning: str | None = None
    """What the model thought before answering, when its template shows thinking."""
    stop_sequence: str | None = None
    """Which of the request's stop sequences ended the answer, if one did."""


@dataclass(frozen=True)
class ChatResult:
    """A finished chat: every choice and the total usage."""

    model: str
    choices: tuple[ChatChoice, ...]
    usage: Usage

    @property
    def text(self) -> str:
        """The first choice's text ("" when it called tools)."""
        return self.choices[0].content or ""

    @property
    def finish_reason(self) -> ChoiceFinish:
        return self.choices[0].finish_reason

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.choices[0].tool_calls

    @property
    def reasoning(self) -> str | None:
        return self.choices[0].reasoning

    @property
    def logprobs(self) -> tuple[TokenLogprob, ...]:
        return self.choices[0].logprobs or ()


@dataclass(frozen=True)
class TextChoice:
    index: int
    text: str
    """Including the echoed prompt, with ``echo``."""
    finish_reason: Literal["stop", "length"]
    logprobs: tuple[TokenLogprob, ...] | None = None
    logprobs_offset: int = 0
    """Where in ``text`` the first logprob's token starts (after an echoed prompt)."""


@dataclass(frozen=True)
class TextResult:
    """A finished text completion: every choice and the total usage."""

    model: str
    choices: tuple[TextChoice, ...]
    usage: Usage

    @property
    def text(self) -> str:
        return self.choices[0].text

    @property
    def finish_reason(self) -> Literal["stop", "length"]:
        return self.choices[0].finish_reason

    @property
    def logprobs(self) -> tuple[TokenLogprob, ...]:
        return self.choices[0].logprobs or ()
