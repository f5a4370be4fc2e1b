"""The chat service's events as Ollama answers: NDJSON lines while streaming, and the
whole answer they add up to (the same fold, so streamed and whole answers agree).

Chat lines carry a ``message``, generate lines a ``response``; the last line is
``done`` with Ollama's counters and durations (nanoseconds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
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
from ...types import TokenLogprob, Usage

__all__ = ["Reply", "Timing", "rfc3339"]


def rfc3339(seconds: float | None = None) -> str:
    """A wall-clock time (now, by default) as Ollama writes times."""
    moment = datetime.now(timezone.utc) if seconds is None \
        else datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


class Timing:
    """Ollama's durations of one request, on the monotonic clock: prompt evaluation is
    the wait for the first event (less the load, if the model loaded for it), eval the
    rest. ``load_seconds`` tells the load's length; None: the model was ready."""

    def __init__(self, load_seconds: Callable[[], float | None] | None = None) -> None:
        self._load_seconds = load_seconds
        self.started = time.monotonic_ns()
        self.first: int | None = None
        self.load = 0

    def mark(self) -> None:
        """An event arrived (only the first one counts)."""
        if self.first is None:
            self.first = time.monotonic_ns()
            if self._load_seconds is not None:
                loaded = int((self._load_seconds() or 0.0) * 1e9)
                self.load = max(0, min(loaded, self.first - self.started))

    def metrics(self, usage: Usage) -> dict[str, int]:
        end = time.monotonic_ns()
        first = self.first if self.first is not None else end
        return {"total_duration": end - self.started, "load_duration": self.load,
                "prompt_eval_count": usage.prompt_tokens,
                "prompt_eval_duration": max(0, first - self.started - self.load),
                "eval_count": usage.completion_tokens, "eval_duration": end - first}


def _logprob(token: TokenLogprob) -> dict[str, Any]:
    return {"token": token.token, "logprob": token.logprob, "bytes": list(token.bytes),
            "top_logprobs": [{"token": t.token, "logprob": t.logprob, "bytes": list(t.bytes)}
                             for t in token.top]}


class Reply:
    """Feed chat events; get Ollama lines back, and the whole answer at the end.

    ``chat``: lines carry a ``message`` (``/api/chat``), else a ``response``
    (``/api/generate``). ``model`` is the name the client asked for, as Ollama
    echoes it.
    """

    def __init__(self, model: str, timing: Timing, *, chat: bool) -> None:
        self.model = model
        self.timing = timing
        self.chat = chat
        self.content: list[str] = []
        self.thinking: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.logprobs: list[dict[str, Any]] = []
        self.done_reason = "stop"
        self.usage = Usage(0, 0)
        self._started: ToolCallStart | None = None

    def feed(self, event: ChatEvent) -> list[dict[str, Any]]:
        """The lines ``event`` adds (none for events Ollama has no line for)."""
        self.timing.mark()
        if isinstance(event, TextDelta) and event.text:
            self.content.append(event.text)
            logprobs = [_logprob(t) for t in event.logprobs or ()]
            self.logprobs.extend(logprobs)
            return [self._line(event.text, logprobs=logprobs)]
        if isinstance(event, ReasoningDelta) and event.text:
            self.thinking.append(event.text)
            return [self._line("", thinking=event.text)]
        if isinstance(event, ToolCallStart):
            self._started = event
            return []
        if isinstance(event, ToolCallArguments) and self._started is not None:
            call = self._call(self._started, event.arguments)
            self.calls.append(call)
            return [self._line("", calls=[call])]
        if isinstance(event, ChoiceEnd):  # a call ends as "stop", as Ollama's do
            self.done_reason = "length" if event.finish_reason == "length" else "stop"
        elif isinstance(event, StreamEnd):
            self.usage = event.usage
            return [self._done(self._body("", None, []))]
        return []

    def whole(self) -> dict[str, Any]:
        """The answer in one object, as ``"stream": false`` returns it."""
        line = self._done(self._body("".join(self.content), "".join(self.thinking) or None,
                                     self.calls))
        if self.logprobs:
            line["logprobs"] = self.logprobs
        return line

    def _call(self, start: ToolCallStart, arguments: str) -> dict[str, Any]:
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError:
            parsed = {}
        return {"id": start.id, "function": {
            "index": start.index, "name": start.name,
            "arguments": parsed if isinstance(parsed, dict) else {}}}

    def _body(self, text: str, thinking: str | None,
              calls: list[dict[str, Any]]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if thinking:
            extra["thinking"] = thinking
        if calls and self.chat:
            extra["tool_calls"] = calls
        if self.chat:
            return {"message": {"role": "assistant", "content": text, **extra}}
        return {"response": text, **extra}

    def _line(self, text: str, *, thinking: str | None = None,
              calls: list[dict[str, Any]] | None = None,
              logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        line = {"model": self.model, "created_at": rfc3339(),
                **self._body(text, thinking, calls or []), "done": False}
        if logprobs:
            line["logprobs"] = logprobs
        return line

    def _done(self, body: dict[str, Any]) -> dict[str, Any]:
        context: dict[str, Any] = {} if self.chat else {"context": []}
        return {"model": self.model, "created_at": rfc3339(), **body, "done": True,
                "done_reason": self.done_reason, **context,
                **self.timing.metrics(self.usage)}
