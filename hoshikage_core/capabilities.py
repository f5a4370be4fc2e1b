"""Which request fields a backend honours; the core refuses the rest (400, naming them).

A backend lists what it supports beyond the basics with the optional hook
``hoshikage_supported_fields``. Without it, only :data:`BASIC_FIELDS` may be
set: a request using anything else gets a 400 before it reaches the backend,
so no backend ignores a parameter silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import InvalidRequestError
from .types import GenerationRequest

__all__ = ["ALL_FIELDS", "BASIC_FIELDS", "refuse_unsupported"]

BASIC_FIELDS = frozenset({"messages", "prompt", "max_tokens", "stop", "temperature", "top_p",
                          "seed"})
ALL_FIELDS = frozenset({*BASIC_FIELDS, "prompt_tokens", "top_k", "min_p", "repeat_penalty",
                        "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
                        "json_schema", "suffix"})
# the request field each internal one comes from, for the error's `param`
_PARAMS = {"json_schema": "response_format", "prompt_tokens": "prompt"}
_ALWAYS = {"model", "tools"}  # tools are only offered to templates; calls work without them


def _is_set(value: object) -> bool:
    return value is not None and value != () and value != {}


def refuse_unsupported(request: GenerationRequest, supported: Iterable[str], *,
                       model: str, backend: str) -> None:
    """Raise a 400 for the first field ``request`` sets that the backend lacks."""
    allowed = BASIC_FIELDS | set(supported) | _ALWAYS
    for field in sorted(ALL_FIELDS - allowed):
        if _is_set(getattr(request, field)):
            param = _PARAMS.get(field, field)
            raise InvalidRequestError(
                f"Model '{model}' (backend '{backend}') does not support {param}.", param=param)
