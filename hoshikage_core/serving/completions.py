"""The text completion service: prompts (text or token ids) in, ``n`` completions
each, with ``echo`` and ``suffix``; neutral events or a result out."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from ..errors import InvalidRequestError
from ..types import GenerationRequest, TokenLogprob, Usage
from .chunks import chained, final_usage, first_chunk
from .engine import Engine
from .events import ChatEvent, ChoiceEnd, ChoiceStart, StreamEnd, TextChoice, TextDelta, TextResult
from .requests import TextRequest

__all__ = ["CompletionService"]


@dataclass(frozen=True)
class _Choice:
    generation: GenerationRequest
    echo: str  # the prompt's text before the completion (echo), else ""
    prompt_index: int


class CompletionService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def stream(self, request: TextRequest) -> AsyncGenerator[ChatEvent, None]:
        """Each choice's start, echoed prompt, text and end, then the total usage.
        Errors before generation starts raise before the first event."""
        choices = await self._choices(request)
        usages: dict[int, list[Usage]] = {}
        for index, choice in enumerate(choices):
            chunks = self._engine.generate(choice.generation, keep_alive=request.keep_alive)
            async with aclosing(chunks):  # type: ignore[type-var]
                first = await first_chunk(chunks, choice.generation.model)
                yield ChoiceStart(index)
                if choice.echo:
                    yield TextDelta(index, choice.echo, None, echo=True)
                async for chunk in chained(first, chunks):
                    if chunk.text:
                        yield TextDelta(index, chunk.text, tuple(chunk.logprobs)
                                        if request.logprobs is not None else None)
                    if chunk.is_final:
                        usage = final_usage(chunk, choice.generation.model)
                        usages.setdefault(choice.prompt_index, []).append(usage)
                        yield ChoiceEnd(index, chunk.finish_reason or "stop", usage)
                        break
        every = [x for u in usages.values() for x in u]
        yield StreamEnd(Usage(sum(u[0].prompt_tokens for u in usages.values()),
                              sum(x.completion_tokens for x in every),
                              sum(u[0].cached_tokens for u in usages.values()),
                              draft_tokens=sum(x.draft_tokens for x in every),
                              accepted_draft_tokens=sum(x.accepted_draft_tokens for x in every)))

    async def answer(self, request: TextRequest) -> TextResult:
        """The whole completion: the fold of :meth:`stream`."""
        name = self._engine.canonical_name(request.model)  # before a reload may remove it
        texts: dict[int, list[str]] = {}
        logprobs: dict[int, list[TokenLogprob]] = {}
        offsets: dict[int, int] = {}
        finishes: dict[int, Literal["stop", "length"]] = {}
        usage = Usage(0, 0)
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                if isinstance(event, ChoiceStart):
                    texts[event.choice], logprobs[event.choice] = [], []
                elif isinstance(event, TextDelta):
                    if event.echo:
                        offsets[event.choice] = offsets.get(event.choice, 0) + len(event.text)
                    texts[event.choice].append(event.text)
                    logprobs[event.choice].extend(event.logprobs or ())
                elif isinstance(event, ChoiceEnd):
                    finishes[event.choice] = "length" if event.finish_reason == "length" \
                        else "stop"
                elif isinstance(event, StreamEnd):
                    usage = event.usage
        choices = tuple(TextChoice(
            index=i, text="".join(texts[i]), finish_reason=finishes[i],
            logprobs=tuple(logprobs[i]) if request.logprobs is not None else None,
            logprobs_offset=offsets.get(i, 0),
        ) for i in sorted(texts))
        return TextResult(name, choices, usage)

    async def _choices(self, request: TextRequest) -> list[_Choice]:
        name = self._engine.canonical_name(request.model)
        max_n = self._engine.settings(name).max_n
        if request.n > max_n:
            raise InvalidRequestError(f"n is {request.n}; model '{name}' allows at most "
                                      f"{max_n} (its max_n).", param="n")
        if not request.prompts:
            raise InvalidRequestError("prompt is an empty list", param="prompt")
        echoes = await self._echoes(request, name)
        choices = []
        for p, prompt in enumerate(request.prompts):
            text = prompt if isinstance(prompt, str) else None
            tokens = None if isinstance(prompt, str) else list(prompt)
            base = GenerationRequest(model=name, prompt=text, prompt_tokens=tokens,
                                     suffix=request.suffix, logprobs=request.logprobs,
                                     **request.sampling.fields())
            for i in range(request.n):
                seed = base.seed + i if base.seed is not None else None
                choices.append(_Choice(dataclasses.replace(base, seed=seed), echoes[p], p))
        return choices

    async def _echoes(self, request: TextRequest, model: str) -> list[str]:
        """The text ``echo`` puts before each prompt's completions ("" without echo)."""
        if not request.echo:
            return [""] * len(request.prompts)
        return [p if isinstance(p, str) else await self._engine.detokenize(model, p)
                for p in request.prompts]
