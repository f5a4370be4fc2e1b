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

__all__ = ["add_constraint", "check_nesting", "convertible", "to_gbnf"]

# keys that describe a value without constraining it
ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment",
                         "deprecated", "readOnly", "writeOnly"})
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SUBSCHEMAS = ("items", "additionalProperties", "not", "contains")
# llama-cpp-python's converter writes a bound of n as n nested optional groups, which
# llama.cpp parses recursively: Claude Code's maxLength 524288 overflowed the thread's
# stack and killed the server. Larger bounds are left to the client to check.
MAX_BOUND = 256
BOUNDS = ("maxLength", "minLength", "maxItems", "minItems")
MAX_NESTING = 1000  # groups inside groups a grammar may have (llama.cpp recurses on them)


def convertible(schema: Any) -> Any:
    """``schema`` as llama-cpp-python's converter takes it: a schema with annotations
    only (``{"description": ...}``: any value, as in JSON Schema; Claude Code's tools
    have such parameters) becomes ``{}``, which the converter reads as any value;
    length and count bounds above ``MAX_BOUND`` are dropped."""
    if not isinstance(schema, dict):
        return schema
    if schema and set(schema) <= ANNOTATIONS:
        return {}
    out = {key: value for key, value in schema.items() if not (
        key in BOUNDS and isinstance(value, int) and value > MAX_BOUND)}
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


def check_nesting(gbnf: str, param: str) -> None:
    """A 400 for a grammar nested too deeply for llama.cpp's recursive parser (which
    would crash the process, not fail)."""
    depth = deepest = 0
    quoted = in_class = escaped = False
    for char in gbnf:
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or in_class):
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif in_class:
            in_class = char != "]"
        elif char == '"':
            quoted = True
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    if deepest > MAX_NESTING:
        raise InvalidRequestError(
            f"This schema makes a grammar nested {deepest} levels deep; llama.cpp takes at "
            f"most {MAX_NESTING}. Simplify the schema.", param=param)


def add_constraint(sampler: Any, model: Any, constraint: Constraint) -> None:
    """Add ``constraint`` to a ``LlamaSampler`` chain (lazily, if it has triggers)."""
    from llama_cpp.llama_grammar import LlamaGrammar

    gbnf = to_gbnf(constraint)
    check_nesting(gbnf, "tools")
    try:
        grammar = LlamaGrammar.from_string(gbnf, verbose=False)
    except Exception as exc:
        raise InvalidRequestError(f"These tools cannot be turned into a grammar: {exc}",
                                  param="tools") from exc
    if not constraint.triggers:
        sampler.add_grammar(model, grammar)
        return
    patterns = [r"[\s\S]*?(" + re.escape(t) + r")[\s\S]*" if t else r"\s*([\s\S])[\s\S]*"
                for t in constraint.triggers]
    sampler.add_grammar_lazy_patterns(model, grammar, patterns, [])
