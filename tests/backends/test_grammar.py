"""Schemas as llama-cpp-python's converter takes them."""

from __future__ import annotations

import pytest

from hoshikage_backends.llamacpp.grammar import MAX_NESTING, check_nesting, convertible, to_gbnf
from hoshikage_core.errors import InvalidRequestError
from hoshikage_core.types import Constraint, Json


def test_a_schema_of_annotations_only_means_any_value() -> None:
    schema = {"type": "object", "required": ["args"], "properties": {
        "args": {"description": "Any value, verbatim."},  # as in Claude Code's Workflow tool
        "name": {"type": "string", "description": "kept"},
        "list": {"type": "array", "items": {"title": "anything"}},
        "either": {"anyOf": [{"type": "integer"}, {"examples": [1]}]}}}
    assert convertible(schema)["properties"] == {
        "args": {}, "name": {"type": "string", "description": "kept"},
        "list": {"type": "array"}, "either": {"anyOf": [{"type": "integer"}, {}]}}
    assert "root ::=" in to_gbnf(Constraint(Json(schema)))  # the converter takes it now


def test_large_bounds_are_dropped_small_ones_kept() -> None:
    """Claude Code's Workflow tool: a string of maxLength 524288 became 524288 nested
    groups, and llama.cpp's recursive parser overflowed its stack (the server died)."""
    schema = {"type": "object", "properties": {
        "script": {"type": "string", "maxLength": 524288},
        "name": {"type": "string", "maxLength": 200, "minLength": 1},
        "items": {"type": "array", "maxItems": 100000, "items": {"type": "integer"}}}}
    properties = convertible(schema)["properties"]
    assert properties == {"script": {"type": "string"},
                          "name": {"type": "string", "maxLength": 200, "minLength": 1},
                          "items": {"type": "array", "items": {"type": "integer"}}}
    check_nesting(to_gbnf(Constraint(Json(schema))), "tools")  # shallow now


def test_grammars_nested_too_deeply_are_refused() -> None:
    deep = "root ::= " + "(" * (MAX_NESTING + 1) + '"x"' + ")" * (MAX_NESTING + 1)
    with pytest.raises(InvalidRequestError) as refused:
        check_nesting(deep, "tools")
    assert refused.value.param == "tools"
    check_nesting('root ::= "((((" [(] ("x")', "tools")  # parentheses in literals don't count
