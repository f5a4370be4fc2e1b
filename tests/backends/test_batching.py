"""Continuous batching on SmolLM2: streams decode together, each with its own settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from hoshikage_backends.llamacpp.model import LlamaCppModel
from hoshikage_backends.llamacpp.options import LlamaCppOptions
from hoshikage_core import ChatMessage, Chunk, GenerationRequest, ModelSpec
from tests.backends.streams import assert_same_greedy, collect, consume

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def batched(bundled_model_path: Path) -> Iterator[LlamaCppModel]:
    model = LlamaCppModel(ModelSpec("b", bundled_model_path, parallel=3),
                          LlamaCppOptions(n_ctx=512))
    yield model
    model.close()


def generate(model: LlamaCppModel, **fields: object) -> list[Chunk]:
    return collect(model, GenerationRequest(model="b", **fields))  # type: ignore[arg-type]


def run_together(model: LlamaCppModel, requests: list[dict[str, object]]
                 ) -> tuple[list[list[Chunk]], list[int]]:
    """Run requests at once on one event loop, as the server does; return their chunks
    and the order chunks arrived in."""
    results: list[list[Chunk]] = [[] for _ in requests]
    arrivals: list[int] = []

    async def stream(i: int) -> None:
        async for chunk in model.generate(GenerationRequest(model="b", **requests[i])):  # type: ignore[arg-type]
            results[i].append(chunk)
            arrivals.append(i)

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(stream(i) for i in range(len(requests)))),
                               300)  # a hang guard

    asyncio.run(main())
    return results, arrivals


def text(chunks: list[Chunk]) -> str:
    return "".join(c.text for c in chunks)


def test_streams_decode_together_and_match_one_at_a_time(batched: LlamaCppModel,
                                                         bundled_model_path: Path) -> None:
    prompts = [f"Story {i}: Once upon a time" for i in range(3)]
    alone = LlamaCppModel(ModelSpec("a", bundled_model_path, parallel=1),
                          LlamaCppOptions(n_ctx=512))
    try:
        expected = [collect(alone, GenerationRequest(
            model="a", prompt=p, temperature=0, max_tokens=40, logprobs=4)) for p in prompts]
    finally:
        alone.close()
    results, arrivals = run_together(batched, [
        {"prompt": p, "temperature": 0, "max_tokens": 40, "logprobs": 4} for p in prompts])
    for got, reference in zip(results, expected):  # greedy: batching changes nothing
        assert_same_greedy(got, reference)  # but a near tie's rounding
    assert all(r[-1].usage is not None and r[-1].usage.completion_tokens == 40 for r in results)
    # interleaved arrival: each stream got chunks before another had finished
    first_done = min(max(i for i, s in enumerate(arrivals) if s == k) for k in range(3))
    assert len(set(arrivals[:first_done])) == 3


def test_each_stream_keeps_its_own_settings(batched: LlamaCppModel) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"], "additionalProperties": False}
    results, _ = run_together(batched, [
        {"messages": [ChatMessage("user", "Where is the Eiffel tower? JSON please.")],
         "json_schema": schema, "temperature": 0, "max_tokens": 60},
        {"prompt": "The capital of France is", "logprobs": 2, "temperature": 0,
         "max_tokens": 5},
        {"prompt": "1, 2, 3, 4, 5, 6,", "stop": [" 9"], "temperature": 0, "max_tokens": 40},
    ])
    structured, with_logprobs, stopped = results
    jsonschema.validate(json.loads(text(structured)), schema)
    entries = [e for c in with_logprobs for e in c.logprobs]
    assert len(entries) == 5 and all(len(e.top) == 2 for e in entries)
    assert stopped[-1].finish_reason == "stop" and " 9" not in text(stopped)
    assert text(stopped).endswith("8,")


def test_closing_one_stream_leaves_the_others_running(batched: LlamaCppModel) -> None:
    long = GenerationRequest(model="b", prompt="1, 2, 3, 4, 5, 6,", temperature=0,
                             max_tokens=60)

    async def main() -> list[Chunk]:
        quitter = batched.generate(long)
        await anext(quitter)
        keeper = asyncio.ensure_future(consume(batched, long))
        await quitter.aclose()  # returns once the engine released the slot
        return await asyncio.wait_for(keeper, 300)

    keeper_result = asyncio.run(main())
    assert keeper_result[-1].usage is not None
    assert keeper_result[-1].usage.completion_tokens == 60
    assert not batched.engine._active()


def test_more_requests_than_slots_wait_their_turn(batched: LlamaCppModel) -> None:
    results, _ = run_together(batched, [{"prompt": f"Count {i}:", "temperature": 0,
                                         "max_tokens": 8} for i in range(5)])
    assert [r[-1].usage.completion_tokens for r in results] == [8] * 5  # type: ignore[union-attr]


def test_a_chats_second_turn_reuses_the_first(batched: LlamaCppModel) -> None:
    turn1 = [ChatMessage("system", "You are a helpful assistant."),
             ChatMessage("user", "Tell me a short story about a cat.")]
    first = generate(batched, messages=turn1, temperature=0, max_tokens=30)
    turn2 = [*turn1, ChatMessage("assistant", text(first)), ChatMessage("user", "And a dog?")]
    second = generate(batched, messages=turn2, temperature=0, max_tokens=10)
    usage1, usage2 = first[-1].usage, second[-1].usage
    assert usage1 is not None and usage2 is not None
    # turn 1's prompt is in the cache; only the new part was evaluated
    assert usage2.cached_tokens >= usage1.prompt_tokens - 1
    assert usage2.cached_tokens < usage2.prompt_tokens
