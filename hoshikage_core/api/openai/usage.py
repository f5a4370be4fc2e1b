"""The OpenAI ``usage`` object."""

from __future__ import annotations

from typing import Any

from ...types import Usage


def usage_dict(usage: Usage) -> dict[str, Any]:
    """OpenAI's ``usage``; ``prompt_tokens_details.cached_tokens`` counts the prompt
    tokens a backend reused from its cache (a chat's earlier turns)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
