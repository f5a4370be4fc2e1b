"""JSON schemas an answer must satisfy: checked before anything generates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidRequestError

__all__ = ["ANY_OBJECT", "checked_schema"]

ANY_OBJECT: dict[str, Any] = {"type": "object"}


def checked_schema(schema: Mapping[str, Any], *, param: str) -> dict[str, Any]:
    """``schema`` if it is a valid JSON schema (``{}``: any object); else a 400 on ``param``."""
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequestError(f"{param} is not a valid JSON schema: {exc.message}",
                                  param=param) from None
    except RecursionError:
        raise InvalidRequestError(f"{param} is nested too deeply to check", param=param) \
            from None
    return dict(schema) or ANY_OBJECT
