"""Helpers for backends to validate their ``[models.NAME.options]`` table."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..config.loader import describe_validation_error
from ..types import ModelSpec

__all__ = ["BackendOptions", "OptionsError", "parse_options"]

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
