"""Token log probabilities in OpenAI's two shapes (chat and legacy completions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...types import TokenLogprob

__all__ = ["chat_logprobs", "completion_logprobs"]


def chat_logprobs(entries: Sequence[TokenLogprob]) -> dict[str, Any]:
    """``choices[].logprobs`` of a chat completion (or chunk)."""
    return {
        "content": [{
            "token": e.token,
            "logprob": e.logprob,
            "bytes": list(e.bytes),
            "top_logprobs": [{"token": t.token, "logprob": t.logprob, "bytes": list(t.bytes)}
                             for t in e.top],
        } for e in entries],
        "refusal": None,
    }


def completion_logprobs(entries: Sequence[TokenLogprob], text_offset: int) -> dict[str, Any]:
    """``choices[].logprobs`` of a text completion; offsets count from ``text_offset``."""
    offsets, position = [], text_offset
    for e in entries:
        offsets.append(position)
        position += len(e.token)
    return {
        "tokens": [e.token for e in entries],
        "token_logprobs": [e.logprob for e in entries],
        "top_logprobs": [{t.token: t.logprob for t in e.top} for e in entries],
        "text_offset": offsets,
    }
