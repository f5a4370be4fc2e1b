"""``response_format``: the JSON schema a chat answer must satisfy, checked first."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequestError
from .protocol import ResponseFormat

__all__ = ["output_schema"]

ANY_OBJECT: dict[str, Any] = {"type": "object"}


def output_schema(response_format: ResponseFormat | None) -> dict[str, Any] | None:
    """The schema to enforce, or None for free text. A broken schema is a 400."""
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return ANY_OBJECT
    assert response_format.json_schema is not None
    schema = response_format.json_schema.schema_
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequestError(f"response_format.json_schema.schema is not a valid JSON "
                                  f"schema: {exc.message}",
                                  param="response_format.json_schema.schema") from None
    return schema or ANY_OBJECT
