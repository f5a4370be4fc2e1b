"""Tool calls for models whose template shows no tools: the calling instructions
Hoshikage adds ask for ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
(or, when a call is required, bare JSON); text that may be such a call is held
back until the answer shows what it is."""

from __future__ import annotations

from ...types import TokenLogprob
from ..tools import ToolPlan, might_be_a_call
from .parsed import Parsed

__all__ = ["GenericCalls"]


class GenericCalls:
    """Reads one answer's content for calls in the generic format."""

    def __init__(self, plan: ToolPlan) -> None:
        self._plan = plan
        self._holding = plan.mode != "none"
        self._held = ""
        self._held_logprobs: list[TokenLogprob] = []

    def feed(self, text: str, logprobs: tuple[TokenLogprob, ...]) -> list[Parsed]:
        if not self._holding:
            return [Parsed("content", text, logprobs)] if text else []
        self._held += text
        self._held_logprobs.extend(logprobs)
        if self._plan.mode == "auto" and self._held.strip() and not might_be_a_call(self._held):
            self._holding = False
            out = [Parsed("content", self._held, tuple(self._held_logprobs))]
            self._held, self._held_logprobs = "", []
            return out
        return []

    def finish(self, complete: bool) -> list[Parsed]:
        """The rest, once the answer ended (``complete``: not cut at max_tokens)."""
        if not self._holding:
            return []
        calls = self._plan.parse(self._held) if complete else []
        if calls:
            return [Parsed("call", call=call) for call in calls]
        return [Parsed("content", self._held, tuple(self._held_logprobs))] if self._held else []
