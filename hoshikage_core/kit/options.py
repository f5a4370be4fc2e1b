"""Helpers for backends to validate their ``[models.NAME.options]`` table."""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ..config.loader import describe_validation_error
from ..config.sizes import parse_size
from ..types import ModelSpec

__all__ = ["BackendOptions", "ByteSize", "OptionsError", "parse_options"]

def _size_or_zero(value: object) -> int:
    return 0 if value == 0 and not isinstance(value, bool) or value == "0" else parse_size(value)


ByteSize = Annotated[int, BeforeValidator(_size_or_zero)]
"""Bytes, written as ``"2GiB"``, ``"512MiB"``, ``"8GB"`` or a number; ``0`` too (for "off")."""

OptionsT = TypeVar("OptionsT", bound="BackendOptions")


class BackendOptions(BaseModel):
    """Base for a backend's options model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OptionsError(ValueError):
    """Bad options for one model; ``problems`` are ready-to-print lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_options(cls: type[OptionsT], model: ModelSpec) -> OptionsT:
    """Validate ``model.options`` into ``cls``.

    Hoshikage validates once, at startup: what ``hoshikage_validate_options``
    returns is the ``model.options`` every later hook receives, and is returned
    here as it is. Raises :class:`OptionsError` whose lines name
    ``models.NAME.options.KEY``, the value, what was expected and, for a
    misspelled key, the likely one.
    """
    if isinstance(model.options, cls):
        return model.options
    try:
        return cls.model_validate(dict(model.options))
    except ValidationError as exc:
        text = describe_validation_error(exc, prefix=("models", model.name, "options"), model=cls)
        raise OptionsError(text.splitlines()[1:]) from None
