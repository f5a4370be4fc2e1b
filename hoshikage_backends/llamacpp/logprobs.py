"""Log probabilities of sampled tokens, read from llama.cpp's last logits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hoshikage_core.types import TokenLogprob, TopLogprob

__all__ = ["token_logprob"]


def token_logprob(ctx: Any, n_vocab: int, row: int, token: int, top_n: int,
                  piece: Callable[[int], bytes]) -> TokenLogprob:
    """``token``'s log probability under the distribution it was sampled from.

    ``row`` is the batch row whose logits produced it. Raw model probabilities
    (before temperature, penalties or grammar), as OpenAI reports them, with
    the ``top_n`` most likely alternatives.
    """
    import llama_cpp
    import numpy as np

    pointer = llama_cpp.llama_get_logits_ith(ctx, row)
    logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).astype(np.float64)
    peak = logits.max()
    logprobs = logits - (peak + np.log(np.exp(logits - peak).sum()))

    def describe(t: int) -> tuple[str, tuple[int, ...]]:
        raw = piece(t)
        return raw.decode("utf-8", errors="replace"), tuple(raw)

    top: list[TopLogprob] = []
    if top_n > 0:
        best = np.argpartition(-logprobs, top_n)[:top_n]
        for t in best[np.argsort(-logprobs[best])]:
            text, raw = describe(int(t))
            top.append(TopLogprob(text, float(logprobs[t]), raw))
    text, raw = describe(token)
    return TokenLogprob(text, float(logprobs[token]), raw, tuple(top))
