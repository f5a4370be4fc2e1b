"""Timing one stream and N concurrent streams through the openai SDK."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import openai

__all__ = ["Concurrent", "Single", "concurrent", "percentile", "single"]


@dataclass(frozen=True)
class Single:
    ttft: float  # seconds to the first token
    decode_rate: float  # tokens/s after the first
    tokens: int
    completed: bool


@dataclass(frozen=True)
class Concurrent:
    streams: int
    completed: int
    aggregate_rate: float  # all tokens / wall time
    ttft_p50: float
    ttft_max: float


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _stream(client: openai.OpenAI, model: str, prompt: str,
            max_tokens: int) -> tuple[float, float, float, int, bool]:
    """(start, first token, end, tokens, finished properly)."""
    started = time.perf_counter()
    first = 0.0
    tokens = 0
    finished = False
    try:
        stream = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens,
                                           temperature=0, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].text:
                tokens += 1
                if tokens == 1:
                    first = time.perf_counter()
            if chunk.choices and chunk.choices[0].finish_reason:
                finished = True
    except (openai.APIError, openai.APIConnectionError):
        finished = False
    return started, first or time.perf_counter(), time.perf_counter(), tokens, finished


def single(client: openai.OpenAI, model: str, prompt: str, max_tokens: int) -> Single:
    start, first, end, tokens, finished = _stream(client, model, prompt, max_tokens)
    rate = (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0
    return Single(first - start, rate, tokens, finished and tokens > 0)


def concurrent(client: openai.OpenAI, model: str, prompts: list[str],
               max_tokens: int) -> Concurrent:
    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        runs = list(pool.map(lambda p: _stream(client, model, p, max_tokens), prompts))
    start = min(r[0] for r in runs)
    end = max(r[2] for r in runs)
    ttfts = [r[1] - r[0] for r in runs]
    return Concurrent(
        streams=len(prompts),
        completed=sum(1 for r in runs if r[4] and r[3] >= max_tokens * 0.9),
        aggregate_rate=sum(r[3] for r in runs) / (end - start),
        ttft_p50=statistics.median(ttfts),
        ttft_max=max(ttfts),
    )
