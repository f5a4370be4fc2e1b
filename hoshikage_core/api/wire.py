"""Field types every dialect's request models share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from ..config.durations import parse_duration

__all__ = ["KeepAlive"]


def _duration_or_none(value: object) -> float | None:
    return None if value is None else parse_duration(value)


KeepAlive = Annotated[float | None, BeforeValidator(_duration_or_none)]
"""Seconds a model stays loaded after a request: ``"5m"``, ``90``, ``-1`` (forever)."""
