"""What one backend can do, asked once at startup, and the 400s for what it cannot."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidRequestError
from ..kit.fields import ALL_FIELDS, BASIC_FIELDS
from ..types import GenerationRequest

__all__ = ["Capabilities"]

# the request field each internal one comes from, for the error's `param`
_PARAMS = {"json_schema": "response_format", "prompt_tokens": "prompt",
           "constraint": "tool_choice"}
_ALWAYS = {"model", "tools"}  # tools are only offered to templates; calls work without them


def _is_set(value: object) -> bool:
    return value is not None and value != () and value != {}


@dataclass(frozen=True)
class Capabilities:
    """One backend's optional hooks, the request fields it honours, and why it cannot
    run here (``None`` if it can)."""

    backend: str
    hooks: frozenset[str]
    fields: frozenset[str]
    unavailable: str | None = None

    def has(self, hook: str) -> bool:
        return hook in self.hooks

    def require(self, hook: str, *, model: str, what: str) -> None:
        """A 400 naming ``model`` if the backend lacks ``hook`` ("cannot {what}")."""
        if hook not in self.hooks:
            raise InvalidRequestError(f"Model '{model}' cannot {what}: its backend "
                                      f"'{self.backend}' does not support it.", param="model")

    def refuse_unsupported(self, request: GenerationRequest, *, model: str) -> None:
        """A 400 for the first field ``request`` sets that the backend does not honour."""
        allowed = BASIC_FIELDS | self.fields | _ALWAYS
        for field in sorted(ALL_FIELDS - allowed):
            if _is_set(getattr(request, field)):
                param = _PARAMS.get(field, field)
                raise InvalidRequestError(
                    f"Model '{model}' (backend '{self.backend}') does not support {param}.",
                    param=param)
