"""Build a llama.cpp sampler chain for one request."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from hoshikage_core.types import GenerationRequest

__all__ = ["SAMPLING_DEFAULTS", "GreedySampler", "build_sampler", "is_plain_greedy"]

# llama.cpp server defaults, used where a request leaves a field out.
SAMPLING_DEFAULTS: dict[str, float] = {
    "temperature": 0.8,
    "top_p": 0.95,
    "top_k": 40,
    "min_p": 0.05,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
}
PENALTY_LAST_N = 64  # as llama-cpp-python


def resolved(request: GenerationRequest) -> dict[str, float]:
    """The request's sampling values, defaults filled in."""
    return {key: getattr(request, key) if getattr(request, key) is not None else default
            for key, default in SAMPLING_DEFAULTS.items()}


class GreedySampler:
    """Argmax over a row of logits: what the chain picks when nothing but greedy is in
    it (neutral penalties, no bias, no grammar), without llama.cpp building a
    candidate entry for every token of the vocabulary first (~10x cheaper)."""

    def __init__(self, n_vocab: int) -> None:
        import llama_cpp
        import numpy as np

        self._shape = (n_vocab,)
        self._logits_of = llama_cpp.llama_get_logits_ith
        self._as_array = np.ctypeslib.as_array

    def sample(self, context: Any, row: int) -> int:
        logits = self._logits_of(context.ctx, row)
        return int(self._as_array(logits, shape=self._shape).argmax())

    def close(self) -> None:
        """Nothing to free (the chain's counterpart has C memory)."""


def is_plain_greedy(values: Mapping[str, float], grammar: Any,
                    logit_bias: Mapping[int, float] | None) -> bool:
    return (values["temperature"] == 0 and grammar is None and not logit_bias
            and values["repeat_penalty"] == 1.0 and values["frequency_penalty"] == 0
            and values["presence_penalty"] == 0)


def build_sampler(model: Any, request: GenerationRequest, *, seed: int | None,
                  grammar: Any = None, logit_bias: Mapping[int, float] | None = None) -> Any:
    """Chain: logit bias → penalties → grammar → greedy, or top-k/top-p/min-p/temperature/dist.

    ``model`` is a ``llama_cpp._internals.LlamaModel``. The same order as
    llama-cpp-python's ``Llama.generate``, so results match it. Plain greedy
    decoding gets a :class:`GreedySampler`, which picks the same tokens.
    """
    from llama_cpp import _internals

    values = resolved(request)
    n_vocab = model.n_vocab()
    if is_plain_greedy(values, grammar or request.constraint, logit_bias):
        return GreedySampler(n_vocab)
    sampler = _internals.LlamaSampler()
    if logit_bias:
        sampler.add_logit_bias(n_vocab, dict(logit_bias))
    sampler.add_penalties(n_vocab=n_vocab, penalty_last_n=PENALTY_LAST_N,
                          penalty_repeat=values["repeat_penalty"],
                          penalty_freq=values["frequency_penalty"],
                          penalty_present=values["presence_penalty"])
    if grammar is not None:
        sampler.add_grammar(model, grammar)
    if request.constraint is not None:
        from .grammar import add_constraint

        add_constraint(sampler, model, request.constraint)
    if values["temperature"] == 0:
        sampler.add_greedy()
    else:
        sampler.add_top_k(int(values["top_k"]))
        sampler.add_top_p(values["top_p"], 1)
        sampler.add_min_p(values["min_p"], 1)
        sampler.add_temp(values["temperature"])
        sampler.add_dist(seed if seed is not None else random.randrange(2**31))
    return sampler
