"""A request's ``Constraint`` as a llama.cpp grammar (GBNF), and as a sampler stage.

JSON values use llama-cpp-python's own JSON-schema converter (``$ref``, ``anyOf``
and the rest); the literals, choices and repetitions around them become rules.
With triggers the grammar is lazy: free text until a trigger appears, the grammar
from there on.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hoshikage_core.errors import InvalidRequestError
from hoshikage_core.types import (
    Alt,
    CharRange,
    Constraint,
    GrammarNode,
    Json,
    Lit,
    Opt,
    Rep,
    Seq,
)

__all__ = ["add_constraint", "convertible", "to_gbnf"]

# keys that describe a value without constraining it
ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment",
                         "deprecated", "readOnly", "writeOnly"})
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SUBSCHEMAS = ("items", "additionalProperties", "not", "contains")


def convertible(schema: Any) -> Any:
    """``schema`` as llama-cpp-python's converter takes it: a schema with annotations
    only (``{"description": ...}``: any value, as in JSON Schema; Claude Code's tools
    have such parameters) becomes ``{}``, which the converter reads as any value."""
    if not isinstance(schema, dict):
        return schema
    if schema and set(schema) <= ANNOTATIONS:
        return {}
    out = dict(schema)
    for key in SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: convertible(sub) for name, sub in out[key].items()}
    for key in SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [convertible(sub) for sub in out[key]]
    for key in SUBSCHEMAS:
        if key in out:
            out[key] = convertible(out[key])
    # the converter reads an empty schema here as none: say "anything" its way
    if out.get("items") == {}:
        del out["items"]
    if out.get("additionalProperties") == {}:
        out["additionalProperties"] = True
    return out


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class _Compiler:
    def __init__(self) -> None:
        from llama_cpp.llama_grammar import SchemaConverter

        self._json = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False,
                                     raw_pattern=False)
        self._rules: dict[str, str] = {}
        self._schemas = 0

    def rule(self, body: str) -> str:
        name = f"r{len(self._rules)}"
        self._rules[name] = body
        return name

    def node(self, node: GrammarNode) -> str:
        if isinstance(node, Lit):
            return _literal(node.text) if node.text else '""'
        if isinstance(node, Json):
            self._schemas += 1
            schema = self._json.resolve_refs(convertible(dict(node.schema)),
                                             f"schema{self._schemas}")
            return self._json.visit(schema, f"json{self._schemas}")
        if isinstance(node, CharRange):
            chars = node.chars.replace("\\", "\\\\").replace("]", "\\]").replace("\n", "\\n")
            count = f"{{1,{node.most}}}" if node.most else "+"
            return f"[{'^' if node.negate else ''}{chars}]{count}"
        if isinstance(node, Seq):
            return "(" + " ".join(self.node(item) for item in node.items) + ")" \
                if node.items else '""'
        if isinstance(node, Alt):
            return "(" + " | ".join(self.node(option) for option in node.options) + ")"
        if isinstance(node, Opt):
            return f"({self.node(node.item)})?"
        if isinstance(node, Rep):
            item = self.rule(self.node(node.item))
            if node.separator is None:
                return f"{item}+"
            return f"({item} ({self.node(node.separator)} {item})*)"
        raise TypeError(f"not a grammar node: {node!r}")

    def grammar(self, root: GrammarNode) -> str:
        body = self.node(root)
        json_rules = self._json.format_grammar()
        lines = [f"root ::= {body}"]
        lines += [f"{name} ::= {rule}" for name, rule in self._rules.items()]
        lines += [line for line in json_rules.splitlines()
                  if line.strip() and not line.startswith("root ::=")]
        return "\n".join(lines) + "\n"


def to_gbnf(constraint: Constraint) -> str:
    """The GBNF grammar for ``constraint`` (its triggers aside)."""
    return _Compiler().grammar(constraint.grammar)


def add_constraint(sampler: Any, model: Any, constraint: Constraint) -> None:
    """Add ``constraint`` to a ``LlamaSampler`` chain (lazily, if it has triggers)."""
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        grammar = LlamaGrammar.from_string(to_gbnf(constraint), verbose=False)
    except Exception as exc:
        raise InvalidRequestError(f"These tools cannot be turned into a grammar: {exc}",
                                  param="tools") from exc
    if not constraint.triggers:
        sampler.add_grammar(model, grammar)
        return
    patterns = [r"[\s\S]*?(" + re.escape(t) + r")[\s\S]*" if t else r"\s*([\s\S])[\s\S]*"
                for t in constraint.triggers]
    sampler.add_grammar_lazy_patterns(model, grammar, patterns, [])
