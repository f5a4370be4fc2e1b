"""``POST /v1/completions``: raw prompts (text or token ids, one or several),
``n`` choices each, ``echo``, ``suffix``, ``logprobs``; streamed or not."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ...errors import InvalidRequestError
from ...hoshikage import Completion
from ...plugins import Backend
from ...types import Chunk, GenerationRequest, Usage
from ..deps import HoshikageDep, log_exchange, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..logprobs_format import completion_logprobs
from ..protocol import CompletionRequest
from ..schema_docs import ERROR_RESPONSES, STREAM_RESPONSES
from ..streaming import open_stream, sse_response
from .usage import usage_dict

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


@dataclasses.dataclass(frozen=True)
class _Choice:
    request: GenerationRequest
    echo: str  # prompt text to put before the completion (echo), else ""
    prompt_index: int


async def _echoes(body: CompletionRequest, model: str, hoshikage: Any) -> list[str]:
    """The text ``echo`` puts before each prompt's completions ("" without echo)."""
    prompts = body.prompts()
    if not body.echo:
        return [""] * len(prompts)
    token_prompts = [p for p in prompts if not isinstance(p, str)]
    texts: list[str] = []
    if token_prompts:
        def work(backend: Backend, handle: Any) -> list[str]:
            return [backend.detokenize(handle, p) for p in token_prompts]

        backend = hoshikage.plugins.backend(hoshikage.models.get(model).config.backend)
        if backend is None or not backend.supports("hoshikage_detokenize"):
            raise InvalidRequestError("echo needs a backend that can detokenize the prompt",
                                      param="echo")
        texts = await hoshikage.models.use(model, work)
    decoded = iter(texts)
    return [p if isinstance(p, str) else next(decoded) for p in prompts]


def _choices(body: CompletionRequest, model: str, echoes: list[str]) -> list[_Choice]:
    choices = []
    for p, prompt in enumerate(body.prompts()):
        text = prompt if isinstance(prompt, str) else None
        tokens = None if isinstance(prompt, str) else prompt
        base = GenerationRequest(
            model=model, prompt=text, prompt_tokens=tokens,
            max_tokens=body.max_tokens, suffix=body.suffix, logprobs=body.logprobs,
            **body.sampling(),
        )
        for i in range(body.n):
            seed = base.seed + i if base.seed is not None else None
            choices.append(_Choice(dataclasses.replace(base, seed=seed), echoes[p], p))
    return choices


def _usage(results: list[tuple[_Choice, Usage]]) -> dict[str, Any]:
    prompts = {c.prompt_index: u.prompt_tokens for c, u in results}  # each prompt once
    return usage_dict(Usage(sum(prompts.values()), sum(u.completion_tokens for _, u in results)))


@router.post("/v1/completions", response_model=None, responses=STREAM_RESPONSES)
async def completions(
    body: CompletionRequest,
    http_request: Request,
    hoshikage: HoshikageDep,
) -> Response:
    log_unknown_fields(body, "completions")
    model = hoshikage.models.get(body.model)
    http_request.state.hoshikage_model = model.name
    if body.n > model.settings.max_n:
        raise InvalidRequestError(f"n is {body.n}; model '{model.name}' allows at most "
                                  f"{model.settings.max_n} (its max_n).", param="n")
    choices = _choices(body, model.name, await _echoes(body, model.name, hoshikage))
    log_exchange(hoshikage, "prompt", body.prompt)
    envelope = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
                "created": int(time.time()), "model": model.name, "system_fingerprint": None}

    def logprobs_of(result_logprobs: Any, offset: int) -> Any:
        return completion_logprobs(result_logprobs, offset) if body.logprobs is not None else None

    if not body.stream:
        done: list[tuple[_Choice, Completion]] = []
        for choice in choices:
            done.append((choice, await until_disconnected(
                http_request, hoshikage.run(choice.request, keep_alive=body.keep_alive))))
        log_exchange(hoshikage, "output", [r.text for _, r in done])
        return JSONResponse({**envelope, "choices": [{
            "index": index, "text": choice.echo + result.text,
            "finish_reason": result.finish_reason,
            "logprobs": logprobs_of(result.logprobs, len(choice.echo)),
        } for index, (choice, result) in enumerate(done)],
            "usage": _usage([(c, r.usage) for c, r in done])})

    first, rest = await until_disconnected(
        http_request, open_stream(hoshikage, choices[0].request, keep_alive=body.keep_alive))
    include_usage = body.include_usage()

    async def frames(chunks: AsyncIterator[Chunk]) -> AsyncIterator[dict[str, Any]]:
        finished: list[tuple[_Choice, Usage]] = []
        texts = [""] * len(choices)
        for index, choice in enumerate(choices):
            source = chunks if index == 0 else hoshikage.generate(
                choice.request, keep_alive=body.keep_alive)
            offset = len(choice.echo)
            if choice.echo:
                yield {**envelope, "choices": [{"index": index, "text": choice.echo,
                                                "finish_reason": None, "logprobs": None}]}
            async with aclosing(source):  # type: ignore[type-var]
                async for chunk in source:
                    if chunk.text or chunk.is_final:
                        yield {**envelope, "choices": [{
                            "index": index, "text": chunk.text,
                            "finish_reason": chunk.finish_reason,
                            "logprobs": logprobs_of(chunk.logprobs, offset)}]}
                        offset += len(chunk.text)
                        texts[index] += chunk.text
                    if chunk.usage is not None:
                        finished.append((choice, chunk.usage))
        log_exchange(hoshikage, "output", texts)
        if include_usage:
            yield {**envelope, "choices": [], "usage": _usage(finished)}

    return sse_response(first, rest, frames,
                        shutdown_grace=hoshikage.config.server.shutdown_timeout)
