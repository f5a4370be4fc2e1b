"""Schemas as llama-cpp-python's converter takes them."""

from __future__ import annotations

from hoshikage_backends.llamacpp.grammar import convertible, to_gbnf
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
