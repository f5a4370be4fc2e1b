"""The OpenAI ``usage`` object."""

from __future__ import annotations

from typing import Any

from ...types import Usage


def usage_dict(usage: Usage) -> dict[str, Any]:
    """OpenAI's ``usage``; ``prompt_tokens_details.cached_tokens`` counts the prompt
    tokens a backend reused from its cache (a chat's earlier turns), and
    ``completion_tokens_details.accepted_prediction_tokens`` /
    ``rejected_prediction_tokens`` the speculative draft tokens the model wrote or
    turned down (OpenAI's names for its predicted outputs)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "accepted_prediction_tokens": usage.accepted_draft_tokens,
            "rejected_prediction_tokens": usage.draft_tokens - usage.accepted_draft_tokens,
        },
    }
