"""The decode loop: evaluate the prompt, then sample and evaluate token by token."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

__all__ = ["decode", "reusable_prefix"]


def reusable_prefix(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """How many leading prompt tokens are already in the KV cache.

    At least one token is always evaluated again, so there are fresh logits.
    """
    n = 0
    for a, b in zip(cached, prompt):
        if a != b:
            break
        n += 1
    return min(n, len(prompt) - 1)


def decode(llama: Any, prompt: Sequence[int], sampler: Any) -> Generator[int, None, None]:
    """Yield sampled tokens until the caller stops iterating.

    A prompt that starts like the previous request's (a multi-turn chat) reuses
    the KV cache for the common prefix instead of evaluating it again.
    """
    keep = reusable_prefix(llama._input_ids[: llama.n_tokens].tolist(), prompt)
    if keep > 0 and llama._ctx.kv_cache_seq_rm(-1, keep, -1):
        llama.n_tokens = keep
    else:
        llama.reset()
    llama.eval(list(prompt[llama.n_tokens:]))
    while True:
        token = int(sampler.sample(llama._ctx, -1))
        yield token
        llama.eval([token])
