"""The chat service: a :class:`ChatRequest` in, neutral events (or a result) out.

It owns what every dialect needs: ``n`` choices, the tools on offer and the calls
in an answer (text that may be a call is held back until the answer shows what
it is), answers shaped by a JSON schema, and usage totals. A result is the fold
of the events, so streamed and whole answers agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from ..errors import InvalidRequestError
from ..types import Chunk, GenerationRequest, TokenLogprob, Usage
from .chunks import chained, final_usage, first_chunk
from .engine import Engine
from .events import (
    ChatChoice,
    ChatEvent,
    ChatResult,
    ChoiceEnd,
    ChoiceFinish,
    ChoiceStart,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallArguments,
    ToolCallStart,
)
from .requests import ChatRequest, NamedTool
from .tools import ToolPlan, might_be_a_call, plan_tools

__all__ = ["ChatService", "total_usage"]


class ChatService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """The answer's events. Errors before generation starts (unknown model, bad
        request, a prompt too long, a model that cannot load) raise before the first
        event; later ones raise mid-stream."""
        plan, generations = await self._prepare(request)
        usages: list[Usage] = []
        for index, generation in enumerate(generations):
            chunks = self._engine.generate(generation, keep_alive=request.keep_alive)
            async with aclosing(_choice_events(index, chunks, plan, request.logprobs is not None,
                                               generation.model)) as events:
                async for event in events:
                    if isinstance(event, ChoiceEnd):
                        usages.append(event.usage)
                    yield event
        yield StreamEnd(total_usage(usages))

    async def answer(self, request: ChatRequest) -> ChatResult:
        """The whole answer: the fold of :meth:`stream`."""
        texts: dict[int, list[str]] = {}
        logprobs: dict[int, list[TokenLogprob]] = {}
        calls: dict[int, dict[int, list[str]]] = {}
        finishes: dict[int, ChoiceFinish] = {}
        usage = Usage(0, 0)
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                if isinstance(event, ChoiceStart):
                    texts[event.choice], logprobs[event.choice] = [], []
                    calls[event.choice] = {}
                elif isinstance(event, TextDelta):
                    texts[event.choice].append(event.text)
                    logprobs[event.choice].extend(event.logprobs or ())
                elif isinstance(event, ToolCallStart):
                    calls[event.choice][event.index] = [event.id, event.name]
                elif isinstance(event, ToolCallArguments):
                    calls[event.choice][event.index].append(event.arguments)
                elif isinstance(event, ChoiceEnd):
                    finishes[event.choice] = event.finish_reason
                elif isinstance(event, StreamEnd):
                    usage = event.usage
        choices = tuple(ChatChoice(
            index=i,
            content=None if calls[i] else "".join(texts[i]),
            finish_reason=finishes[i],
            tool_calls=tuple(ToolCall(c[0], c[1], "".join(c[2:])) for _, c in
                             sorted(calls[i].items())),
            logprobs=tuple(logprobs[i]) if request.logprobs is not None else None,
        ) for i in sorted(texts))
        return ChatResult(self._engine.canonical_name(request.model), choices, usage)

    async def render(self, request: ChatRequest) -> str:
        """The prompt text ``request`` renders to with the model's template (400 for a
        model whose backend renders chats itself)."""
        name = self._engine.canonical_name(request.model)
        template = await self._engine.chat_template(name)
        if template is None:
            raise InvalidRequestError(f"Model '{name}' renders chats in its backend; "
                                      "there is no template to apply here.", param="model")
        plan = self._plan(request, name)
        return await self._render(template, request, plan, name)

    def _plan(self, request: ChatRequest, name: str) -> ToolPlan:
        max_n = self._engine.settings(name).max_n
        if request.n > max_n:
            raise InvalidRequestError(f"n is {request.n}; model '{name}' allows at most "
                                      f"{max_n} (its max_n).", param="n")
        if request.n < 1:
            raise InvalidRequestError("n must be at least 1", param="n")
        choice = request.tool_choice
        if isinstance(choice, NamedTool) and choice.name not in {t.name for t in request.tools}:
            raise InvalidRequestError(f"tool_choice names the function '{choice.name}', which "
                                      "is not in tools", param="tool_choice")
        if choice == "required" and not request.tools:
            raise InvalidRequestError("tool_choice 'required' needs tools", param="tool_choice")
        return plan_tools(request.tools, choice)

    async def _render(self, template: Any, request: ChatRequest, plan: ToolPlan,
                      name: str) -> str:
        """The chat through the model's own template: tools shown as the template shows
        them (calling instructions only for templates that show none, or to ask for
        the forced call's format), its variables over the model's."""
        native = template.caps.tools and plan.mode == "auto"
        messages = list(request.messages) if native else plan.messages(list(request.messages))
        variables = {**self._engine.settings(name).chat_template_kwargs,
                     **request.chat_template_kwargs}
        tools = [t.to_openai() for t in plan.tools] or None
        try:
            prompt: str = await self._engine.in_worker(
                lambda: template.render(messages, tools, variables=variables))
        except ValueError as exc:  # TemplateError: it rejected these messages
            raise InvalidRequestError(f"The chat template of model '{name}' rejected these "
                                      f"messages: {exc}", param="messages") from exc
        return prompt

    async def _prepare(self, request: ChatRequest) -> tuple[ToolPlan, list[GenerationRequest]]:
        name = self._engine.canonical_name(request.model)
        plan = self._plan(request, name)
        schema: Any = request.response_schema
        if plan.mode == "forced":
            if schema is not None:
                raise InvalidRequestError("response_format cannot be combined with a required "
                                          "tool call", param="response_format")
            schema = plan.json_schema
        template = await self._engine.chat_template(name)
        tools = [t.to_openai() for t in plan.tools] or None
        chat: dict[str, Any] = (
            {"chat_prompt": await self._render(template, request, plan, name)}
            if template is not None else
            {"messages": plan.messages(list(request.messages)), "tools": tools})
        base = GenerationRequest(model=name, logprobs=request.logprobs, json_schema=schema,
                                 **chat, **request.sampling.fields())
        # n choices; with a seed, choice i uses seed + i: different, and reproducible
        return plan, [dataclasses.replace(base, seed=base.seed + i if base.seed is not None
                                          else None) for i in range(request.n)]


def total_usage(usages: list[Usage]) -> Usage:
    """All choices of one prompt: the prompt counted once, every completion token."""
    if not usages:
        return Usage(0, 0)
    return Usage(usages[0].prompt_tokens, sum(u.completion_tokens for u in usages),
                 usages[0].cached_tokens)


async def _choice_events(index: int, chunks: AsyncIterator[Chunk], plan: ToolPlan,
                         want_logprobs: bool, model: str) -> AsyncGenerator[ChatEvent, None]:
    """One choice's events: its start (once its first chunk arrived), text or tool
    calls, its end. Text that may be a tool call is held back until the answer shows
    what it is; a call that does not parse is text after all. Closing it closes the
    generation (its slot is free again)."""
    async with aclosing(chunks), aclosing(  # type: ignore[type-var]
            _interpret(index, chunks, plan, want_logprobs, model)) as events:
        async for event in events:
            yield event


async def _interpret(index: int, chunks: AsyncIterator[Chunk], plan: ToolPlan,
                     want_logprobs: bool, model: str) -> AsyncGenerator[ChatEvent, None]:
    first = await first_chunk(chunks, model)
    yield ChoiceStart(index)
    held, held_logprobs = "", list[TokenLogprob]()
    holding = plan.mode != "none"

    def delta(text: str, logprobs: list[TokenLogprob] | tuple[TokenLogprob, ...]) -> TextDelta:
        return TextDelta(index, text, tuple(logprobs) if want_logprobs else None)

    async for chunk in chained(first, chunks):
        if holding:
            held += chunk.text
            held_logprobs.extend(chunk.logprobs)
            if plan.mode == "auto" and held.strip() and not might_be_a_call(held):
                holding = False
                yield delta(held, held_logprobs)
                held, held_logprobs = "", []
        elif chunk.text:
            yield delta(chunk.text, chunk.logprobs)
        if chunk.is_final:
            finish: ChoiceFinish = chunk.finish_reason or "stop"
            if holding:
                calls = plan.parse(held) if finish == "stop" else []
                for i, call in enumerate(calls):
                    yield ToolCallStart(index, i, call.id, call.name)
                    yield ToolCallArguments(index, i, call.arguments)
                if calls:
                    finish = "tool_calls"
                elif held:
                    yield delta(held, held_logprobs)
            yield ChoiceEnd(index, finish, final_usage(chunk, model))
            return
