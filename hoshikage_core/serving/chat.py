"""The chat service: a :class:`ChatRequest` in, neutral events (or a result) out.

It owns what every dialect needs: the model's own template, ``n`` choices, the
tools on offer and the calls in an answer, thinking apart from the answer,
answers shaped by a JSON schema, and usage totals. A result is the fold of the
events, so streamed and whole answers agree.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequestError
from ..types import GenerationRequest, TokenLogprob, Usage
from .answer import ChoiceReader
from .engine import Engine
from .events import (
    ChatChoice,
    ChatEvent,
    ChatResult,
    ChoiceEnd,
    ChoiceFinish,
    ChoiceStart,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallArguments,
    ToolCallStart,
)
from .formats.calls import CallFormat, learn_calls
from .formats.generic import GenericCalls
from .formats.grammar import call_constraint
from .formats.harmony import HARMONY, HarmonyFormat, harmony_constraint, is_harmony
from .formats.native import NativeCalls
from .formats.parsed import CallParser
from .formats.reasoning import ReasoningFormat, learn_reasoning
from .requests import ChatRequest, NamedTool
from .tools import ToolPlan, plan_tools

__all__ = ["ChatService", "total_usage"]

# what reasoning_effort means for a model whose template does not read it itself
EFFORT_BUDGETS = {"none": 0, "minimal": 0, "low": 1024, "medium": 4096, "high": None}


@dataclass(frozen=True)
class _Formats:
    """What a template shows of thinking and of tool calls (learned once)."""

    reasoning: ReasoningFormat | None
    calls: CallFormat | None


def _learn(template: Any) -> _Formats:
    return _Formats(learn_reasoning(template), learn_calls(template))


@dataclass(frozen=True)
class _Plan:
    tools: ToolPlan
    generations: list[GenerationRequest]
    reasoning: ReasoningFormat | HarmonyFormat | None
    budget: int | None
    calls: CallFormat | None  # the model's own format, when its calls are read in it
    parallel: bool | None
    harmony: bool = False  # calls come from the harmony splitter itself

    def parser(self) -> CallParser:
        if self.harmony:
            return GenericCalls(ToolPlan("none"))  # content stays content
        if self.calls is not None:
            return NativeCalls(self.calls, self.tools.tools, self.tools.mode,
                               parallel=self.parallel is not False)
        return GenericCalls(self.tools)


class ChatService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._formats: weakref.WeakKeyDictionary[Any, _Formats] = weakref.WeakKeyDictionary()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """The answer's events. Errors before generation starts (unknown model, bad
        request, a prompt too long, a model that cannot load) raise before the first
        event; later ones raise mid-stream."""
        plan = await self._prepare(request)
        usages: list[Usage] = []
        for index, generation in enumerate(plan.generations):
            reader = ChoiceReader(
                index, generation,
                lambda g: self._engine.generate(g, keep_alive=request.keep_alive),
                plan.parser(), plan.reasoning, plan.budget, request.logprobs is not None,
                plan.tools.tools)
            async with aclosing(reader.events()) as events:
                async for event in events:
                    if isinstance(event, ChoiceEnd):
                        usages.append(event.usage)
                    yield event
        yield StreamEnd(total_usage(usages))

    async def answer(self, request: ChatRequest) -> ChatResult:
        """The whole answer: the fold of :meth:`stream`."""
        name = self._engine.canonical_name(request.model)  # before a reload may remove it
        texts: dict[int, list[str]] = {}
        thoughts: dict[int, list[str]] = {}
        logprobs: dict[int, list[TokenLogprob]] = {}
        calls: dict[int, dict[int, list[str]]] = {}
        finishes: dict[int, ChoiceFinish] = {}
        stops: dict[int, str | None] = {}
        usage = Usage(0, 0)
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                if isinstance(event, ChoiceStart):
                    texts[event.choice], thoughts[event.choice] = [], []
                    logprobs[event.choice], calls[event.choice] = [], {}
                elif isinstance(event, TextDelta):
                    texts[event.choice].append(event.text)
                    logprobs[event.choice].extend(event.logprobs or ())
                elif isinstance(event, ReasoningDelta):
                    thoughts[event.choice].append(event.text)
                elif isinstance(event, ToolCallStart):
                    calls[event.choice][event.index] = [event.id, event.name]
                elif isinstance(event, ToolCallArguments):
                    calls[event.choice][event.index].append(event.arguments)
                elif isinstance(event, ChoiceEnd):
                    finishes[event.choice] = event.finish_reason
                    stops[event.choice] = event.stop_sequence
                elif isinstance(event, StreamEnd):
                    usage = event.usage
        choices = tuple(ChatChoice(
            index=i,
            content=None if calls[i] else "".join(texts[i]),
            finish_reason=finishes[i],
            tool_calls=tuple(ToolCall(c[0], c[1], "".join(c[2:])) for _, c in
                             sorted(calls[i].items())),
            logprobs=tuple(logprobs[i]) if request.logprobs is not None else None,
            reasoning="".join(thoughts[i]) if thoughts[i] else None,
            stop_sequence=stops.get(i),
        ) for i in sorted(texts))
        return ChatResult(name, choices, usage)

    async def render(self, request: ChatRequest) -> str:
        """The prompt text ``request`` renders to with the model's template (400 for a
        model whose backend renders chats itself)."""
        name = self._engine.canonical_name(request.model)
        template = await self._engine.chat_template(name)
        if template is None:
            raise InvalidRequestError(f"Model '{name}' renders chats in its backend; "
                                      "there is no template to apply here.", param="model")
        plan = self._plan_tools(request, name)
        template = template.for_tools(plan.mode != "none")
        formats = await self._formats_of(template)
        native = formats.calls is not None and self._constrains(name)
        return await self._render(template, request, plan, name, native=native)

    def _plan_tools(self, request: ChatRequest, name: str) -> ToolPlan:
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

    def _variables(self, request: ChatRequest, name: str) -> dict[str, Any]:
        """Template variables: the model's, then the request's, then what
        ``reasoning_effort`` implies."""
        variables = {**self._engine.settings(name).chat_template_kwargs,
                     **request.chat_template_kwargs}
        effort = request.reasoning_effort
        if effort is not None:
            variables.setdefault("reasoning_effort", effort)
            if EFFORT_BUDGETS.get(effort, None) == 0:
                variables.setdefault("enable_thinking", False)
        return variables

    def _constrains(self, name: str) -> bool:
        return "constraint" in self._engine.capabilities(name).fields

    async def _render(self, template: Any, request: ChatRequest, plan: ToolPlan,
                      name: str, *, native: bool) -> str:
        """The chat through the model's own template: tools shown as the template shows
        them, with calling instructions only for templates that show none (or, when
        calls are not read in the model's own format, to ask for a required call's
        format), its variables over the model's."""
        shows_tools = template.caps.tools and (native or plan.mode == "auto")
        messages = list(request.messages) if shows_tools else plan.messages(
            list(request.messages), tagged=native)
        variables = self._variables(request, name)
        tools = [t.to_openai() for t in plan.tools] or None
        try:
            prompt: str = await self._engine.in_worker(
                lambda: template.render(messages, tools, variables=variables))
        except ValueError as exc:  # TemplateError: it rejected these messages
            raise InvalidRequestError(f"The chat template of model '{name}' rejected these "
                                      f"messages: {exc}", param="messages") from exc
        return prompt

    async def _formats_of(self, template: Any) -> _Formats:
        if template not in self._formats:
            self._formats[template] = await self._engine.in_worker(_learn, template)
        return self._formats[template]

    async def _prepare(self, request: ChatRequest) -> _Plan:
        name = self._engine.canonical_name(request.model)
        settings = self._engine.settings(name)
        plan = self._plan_tools(request, name)
        schema: Any = request.response_schema
        if plan.mode == "forced" and schema is not None:
            raise InvalidRequestError("response_format cannot be combined with a required "
                                      "tool call", param="response_format")
        template = await self._engine.chat_template(name)
        if template is not None:
            template = template.for_tools(plan.mode != "none")
        reasoning: ReasoningFormat | HarmonyFormat | None = None
        calls, constraint, harmony = None, None, False
        chat: dict[str, Any]
        if template is None:
            chat = {"messages": plan.messages(list(request.messages)),
                    "tools": [t.to_openai() for t in plan.tools] or None}
        elif is_harmony(template):  # gpt-oss: channels for thinking, answer and calls
            harmony = True
            if plan.mode != "none" and schema is None and self._constrains(name):
                constraint = harmony_constraint(plan.tools, forced=plan.mode == "forced")
            prompt = await self._render(template, request, plan, name, native=True)
            if plan.mode == "forced" or schema is not None:
                prompt += "<|channel|>analysis<|message|><|end|><|start|>assistant"
            chat = {"chat_prompt": prompt}
            separate = (request.reasoning_format or settings.reasoning_format) != "none"
            reasoning = HARMONY if separate else None
        else:
            formats = await self._formats_of(template)
            if formats.calls is not None and plan.mode != "none" and self._constrains(name):
                calls = formats.calls  # calls in the model's own format, kept to it
                constraint = None if schema is not None else call_constraint(
                    calls, plan.tools, forced=plan.mode == "forced",
                    parallel=request.parallel_tool_calls is True
                    or (plan.mode == "auto" and request.parallel_tool_calls is None))
            prompt = await self._render(template, request, plan, name,
                                        native=calls is not None)
            learned = formats.reasoning
            constrained = schema is not None or plan.mode == "forced"
            if constrained and learned is not None and learned.starts_open(prompt):
                prompt += learned.close_text()  # a constrained answer: no thinking first
            chat = {"chat_prompt": prompt}
            separate = (request.reasoning_format or settings.reasoning_format) != "none"
            reasoning = learned if separate else None
        if plan.mode == "forced" and calls is None and not harmony:
            schema = plan.json_schema  # the generic format: one JSON call
        budget = request.reasoning_budget
        if budget is None and request.reasoning_effort is not None:
            budget = EFFORT_BUDGETS.get(request.reasoning_effort)
        if budget is None:
            budget = settings.reasoning_budget
        base = GenerationRequest(model=name, logprobs=request.logprobs, json_schema=schema,
                                 constraint=constraint, **chat, **request.sampling.fields())
        # n choices; with a seed, choice i uses seed + i: different, and reproducible
        generations = [dataclasses.replace(base, seed=base.seed + i if base.seed is not None
                                           else None) for i in range(request.n)]
        return _Plan(plan, generations, reasoning, budget, calls, request.parallel_tool_calls,
                     harmony)


def total_usage(usages: list[Usage]) -> Usage:
    """All choices of one prompt: the prompt counted once, every completion token."""
    if not usages:
        return Usage(0, 0)
    return Usage(usages[0].prompt_tokens, sum(u.completion_tokens for u in usages),
                 usages[0].cached_tokens, sum(u.reasoning_tokens for u in usages),
                 sum(u.draft_tokens for u in usages),
                 sum(u.accepted_draft_tokens for u in usages))
