"""The ``GenerationRequest`` fields a backend may declare it honours.

A backend returns the ones it supports beyond :data:`BASIC_FIELDS` from the
optional hook ``hoshikage_supported_fields`` (``ALL_FIELDS`` if it honours
every one); Hoshikage refuses requests that set any other with a 400 naming it,
so no backend ignores a parameter silently.
"""

from __future__ import annotations

__all__ = ["ALL_FIELDS", "BASIC_FIELDS"]

BASIC_FIELDS = frozenset({"messages", "prompt", "max_tokens", "stop", "temperature", "top_p",
                          "seed"})
"""What every backend must honour."""

ALL_FIELDS = frozenset({*BASIC_FIELDS, "prompt_tokens", "top_k", "min_p", "repeat_penalty",
                        "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
                        "json_schema", "constraint", "suffix"})
"""Every field a backend can declare."""
