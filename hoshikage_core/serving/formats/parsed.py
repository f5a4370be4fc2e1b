"""What an answer's text turns out to be, piece by piece."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ...types import TokenLogprob
from ..events import ToolCall

__all__ = ["CallParser", "Parsed"]


@dataclass(frozen=True)
class Parsed:
    """A piece of an answer: its text, or one whole tool call."""

    kind: Literal["content", "call"]
    text: str = ""
    logprobs: tuple[TokenLogprob, ...] = ()
    call: ToolCall | None = None


class CallParser(Protocol):
    """Finds tool calls in an answer's content as it streams."""

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[Parsed]:
        """Content and calls known so far; text that may begin a call is held."""

    def finish(self, complete: bool) -> list[Parsed]:
        """What is left once the answer ended (``complete``: it was not cut short)."""
