"""One choice of a chat answer: its generation read into neutral events.

The text is split into thinking and content (when the model's template shows
thinking), the content into text and tool calls (in the model's own format or
the generic one), and a thinking budget is kept: once the model has thought that
many tokens, its think block is closed for it and the answer goes on from there
(the prompt cache makes the continuation cheap).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from ..types import Chunk, GenerationRequest, Usage
from .chunks import chained, final_usage, first_chunk
from .events import (
    ChatEvent,
    ChoiceEnd,
    ChoiceFinish,
    ChoiceStart,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallArguments,
    ToolCallStart,
)
from .formats.harmony import HarmonyFormat, HarmonySplitter
from .formats.parsed import CallParser, Parsed
from .formats.reasoning import ReasoningFormat, ReasoningSplitter
from .requests import ToolSpec

Splitter = ReasoningSplitter | HarmonySplitter

__all__ = ["ChoiceReader"]

Generate = Callable[[GenerationRequest], AsyncIterator[Chunk]]


@dataclass
class ChoiceReader:
    """Reads choice ``index``: ``generation`` through ``generate``, its text through
    ``reasoning`` (None: the answer is all content) and ``calls``."""

    index: int
    generation: GenerationRequest
    generate: Generate
    calls: CallParser
    reasoning: ReasoningFormat | HarmonyFormat | None = None
    budget: int | None = None
    want_logprobs: bool = False
    tools: Sequence[ToolSpec] = ()  # for calls the splitter itself finds (harmony)

    async def events(self) -> AsyncGenerator[ChatEvent, None]:
        prompt = self.generation.chat_prompt
        splitter = self._splitter(prompt or "", fresh=True)
        thought, raw, spent = 0, "", 0
        usages: list[Usage] = []
        started = False
        generation = self.generation
        finish: ChoiceFinish = "stop"
        stop_sequence: str | None = None
        while True:
            cut_short = False
            chunks = self.generate(generation)
            async with aclosing(chunks):  # type: ignore[type-var]
                first = await first_chunk(chunks, generation.model)
                if not started:
                    started = True
                    yield ChoiceStart(self.index)
                async for chunk in chained(first, chunks):
                    raw += chunk.text
                    pieces = splitter.feed(chunk.text) if splitter else [("content", chunk.text)]
                    if chunk.is_final and splitter:
                        pieces += splitter.flush()
                    thought += _thinking_tokens(chunk, pieces)
                    for event in self._read(pieces, chunk):
                        yield event
                    if chunk.is_final:
                        usages.append(final_usage(chunk, generation.model))
                        finish = chunk.finish_reason or "stop"
                        if chunk.stop_sequence in generation.stop:  # not a template's own
                            stop_sequence = chunk.stop_sequence
                        break
                    if (self.budget is not None and splitter is not None and splitter.thinking
                            and thought >= self.budget and prompt is not None):
                        cut_short = True  # thought enough: close the block and go on
                        break
            if not cut_short:
                break
            assert self.reasoning is not None and splitter is not None and prompt is not None
            spent += _generated(raw, thought)
            splitter = self._splitter("", fresh=False)
            generation = _continuation(self.generation,
                                       prompt + raw + self.reasoning.close_text(), spent)
            raw = ""
            if generation.max_tokens is not None and generation.max_tokens <= 0:
                finish = "length"
                break
        for parsed in self.calls.finish(complete=finish == "stop"):
            for event in self._events(parsed):
                yield event
        finish = self._finish(finish)
        yield ChoiceEnd(self.index, finish, _joined(usages, spent, thought),
                        stop_sequence if finish == "stop" else None)

    def _splitter(self, prompt: str, *, fresh: bool) -> Splitter | None:
        """What separates thinking from the rest; ``fresh``: at the answer's start (else
        after a budget closed the block)."""
        fmt = self.reasoning
        if fmt is None:
            return None
        opened = fresh and fmt.starts_open(prompt)
        if isinstance(fmt, HarmonyFormat):
            return HarmonySplitter(starts_open=opened, after_close=not fresh)
        return ReasoningSplitter(fmt, starts_open=opened)

    def _read(self, pieces: list[tuple[str, str]], chunk: Chunk) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        logprobs = chunk.logprobs
        for kind, text in pieces:
            if kind == "reasoning":
                events.append(ReasoningDelta(self.index, text))
            elif kind == "call":
                call = self._call(text)
                events.extend(self._events(Parsed("call", call=call) if call is not None
                                           else Parsed("content", _raw_call(text))))
            else:
                for parsed in self.calls.feed(text, logprobs):
                    events.extend(self._events(parsed))
                logprobs = ()  # a chunk's tokens go with its first content
        return events

    def _events(self, parsed: Parsed) -> list[ChatEvent]:
        if parsed.kind == "call":
            assert parsed.call is not None
            number = self._calls
            self._calls += 1
            return [ToolCallStart(self.index, number, parsed.call.id, parsed.call.name),
                    ToolCallArguments(self.index, number, parsed.call.arguments)]
        if not parsed.text:
            return []
        return [TextDelta(self.index, parsed.text,
                          parsed.logprobs if self.want_logprobs else None)]

    def _call(self, text: str) -> ToolCall | None:
        """A call a splitter found (``{"name", "arguments"}``), if it calls an offered
        function with JSON object arguments."""
        found = json.loads(text)
        if found["name"] not in {t.name for t in self.tools}:
            return None
        try:
            arguments = json.loads(found["arguments"] or "{}")
        except ValueError:
            return None
        if not isinstance(arguments, dict):
            return None
        return ToolCall(f"call_{uuid.uuid4().hex[:24]}", found["name"],
                        json.dumps(arguments, ensure_ascii=False))

    def _finish(self, finish: ChoiceFinish) -> ChoiceFinish:
        return "tool_calls" if self._calls else finish

    def __post_init__(self) -> None:
        self._calls = 0


def _raw_call(text: str) -> str:
    found = json.loads(text)
    return f"{found['name']}: {found['arguments']}"


def _thinking_tokens(chunk: Chunk, pieces: list[tuple[str, str]]) -> int:
    """The share of ``chunk``'s tokens that went into thinking (by characters)."""
    tokens = chunk.tokens or (1 if chunk.text else 0)
    total = sum(len(text) for _, text in pieces)
    thinking = sum(len(text) for kind, text in pieces if kind == "reasoning")
    return round(tokens * thinking / total) if total else 0


def _generated(raw: str, thought: int) -> int:
    return max(thought, 1) if raw else 0


def _continuation(generation: GenerationRequest, prompt: str, spent: int) -> GenerationRequest:
    limit = generation.max_tokens - spent if generation.max_tokens is not None else None
    return dataclasses.replace(generation, chat_prompt=prompt, max_tokens=limit)


def _joined(usages: list[Usage], spent: int, thought: int) -> Usage:
    """One choice's usage over its generations. After a budget cut the answer went on
    from a prompt holding the thinking so far: that thinking counts as completion
    tokens (``spent``), not as prompt."""
    if not usages:  # cut, and no room left to go on
        return Usage(0, spent, reasoning_tokens=thought)
    last = usages[-1]
    return Usage(max(0, last.prompt_tokens - spent), spent + last.completion_tokens,
                 max(0, last.cached_tokens - spent), reasoning_tokens=thought,
                 draft_tokens=sum(u.draft_tokens for u in usages),
                 accepted_draft_tokens=sum(u.accepted_draft_tokens for u in usages))
