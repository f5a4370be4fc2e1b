"""The grammar of tool calls in a model's own format, for the declared tools.

``required`` or a named function: the answer is calls, from its first token.
``auto``: free text until the format's start marker, then calls (a lazy grammar,
as llama.cpp's): the model chooses, and once it calls, it calls validly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ...types import Alt, CharRange, Constraint, GrammarNode, Json, Lit, Opt, Rep, Seq
from ..requests import ToolSpec
from .calls import CALL_ID, KEY, NUMBER, CallFormat, ParamFormat

__all__ = ["call_constraint"]


def _markup(text: str, key: str = "") -> list[GrammarNode]:
    """Markup with its placeholders as grammar: counters are digits, ids word
    characters, an argument's name itself."""
    nodes: list[GrammarNode] = []
    for part in re.split(f"({re.escape(NUMBER)}|{re.escape(CALL_ID)}|{re.escape(KEY)})", text):
        if part == NUMBER:
            nodes.append(CharRange("0-9", most=3))
        elif part == CALL_ID:
            nodes.append(CharRange("a-zA-Z0-9_-", most=40))
        elif part == KEY:
            nodes.append(Lit(key))
        elif part:
            nodes.append(Lit(part))
    return nodes


def _json_call(fmt: CallFormat, tool: ToolSpec) -> dict[str, Any]:
    parameters = dict(tool.parameters) or {"type": "object"}
    if fmt.name_key is None:
        return {"type": "object", "properties": {tool.name: parameters},
                "required": [tool.name], "additionalProperties": False}
    named = {fmt.name_key: {"const": tool.name},
             fmt.arguments_key: {"type": "string"} if fmt.arguments_as_text else parameters}
    properties: dict[str, Any] = {}
    for key, holds in fmt.extra or tuple((k, None) for k in named):  # the template's order
        properties[key] = named.get(key) or (
            {"type": "string", "pattern": "^[0-9]{1,3}$"} if holds == "counter" else
            {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"} if holds == "id" else
            {"const": holds})
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def _value(param: ParamFormat, schema: dict[str, Any], string: bool) -> GrammarNode:
    if not string:
        return Json(schema)
    choices = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
    if choices and all(isinstance(c, str) for c in choices):
        body: GrammarNode = Alt(tuple(Lit(c) for c in choices))
    else:
        stop = (param.quote or param.close.strip() or ",")[:1]
        body = CharRange(stop + ("\n" if not param.quote else ""), negate=True)
    return Seq((Lit(param.quote), body, Lit(param.quote))) if param.quote else body


def _xml_arguments(fmt: CallFormat, tool: ToolSpec) -> list[GrammarNode]:
    assert fmt.string_param is not None and fmt.other_param is not None
    properties = dict(tool.parameters.get("properties", {}))
    required = [k for k in tool.parameters.get("required", []) if k in properties]
    order = required + [k for k in properties if k not in required]
    nodes: list[GrammarNode] = []
    for i, key in enumerate(order):
        schema = dict(properties[key])
        string = schema.get("type") == "string"
        param = fmt.string_param if string else fmt.other_param
        item: list[GrammarNode] = [Lit(fmt.param_separator)] if i and fmt.param_separator \
            else []
        item += [*_markup(param.open), Lit(key), *_markup(param.middle),
                 _value(param, schema, string), *_markup(param.close, key)]
        nodes.append(Seq(tuple(item)) if key in required else Opt(Seq(tuple(item))))
    return nodes


def _call(fmt: CallFormat, tool: ToolSpec) -> GrammarNode:
    if fmt.kind == "json":
        return Seq((*_markup(fmt.call_open), Json(_json_call(fmt, tool)),
                    *_markup(fmt.call_close)))
    head = (*_markup(fmt.call_open), Lit(tool.name), *_markup(fmt.middle))
    if fmt.kind == "named":
        body: tuple[GrammarNode, ...] = (Json(dict(tool.parameters) or {"type": "object"}),)
    else:
        body = tuple(_xml_arguments(fmt, tool))
    return Seq((*head, *body, *_markup(fmt.call_close)))


def _strip_start(nodes: list[GrammarNode]) -> list[GrammarNode]:
    """Without leading whitespace: the grammar starts at the format's start marker."""
    while nodes and isinstance(nodes[0], Lit) and not nodes[0].text.strip():
        nodes = nodes[1:]
    return [_lstrip(nodes[0]), *nodes[1:]] if nodes else nodes


def _lstrip(node: GrammarNode) -> GrammarNode:
    if isinstance(node, Lit):
        return Lit(node.text.lstrip())
    if isinstance(node, Seq):
        return Seq(tuple(_strip_start(list(node.items))))
    if isinstance(node, Alt):
        return Alt(tuple(_lstrip(option) for option in node.options))
    if isinstance(node, Rep):
        return Rep(_lstrip(node.item), node.separator)
    return node


def call_constraint(fmt: CallFormat, tools: Sequence[ToolSpec], *, forced: bool,
                    parallel: bool = True) -> Constraint | None:
    """The constraint for calls to ``tools`` in ``fmt`` (None: ``auto`` on a format that
    opens with no marker, which no trigger can find)."""
    if not forced and not fmt.start.strip():
        return None
    several = parallel and not fmt.single
    if fmt.array:
        items: dict[str, Any] = {"anyOf": [_json_call(fmt, t) for t in tools]}
        array = {"type": "array", "items": items, "minItems": 1}
        if not several:
            array["maxItems"] = 1
        calls: GrammarNode = Seq((*_markup(fmt.call_open), Json(array),
                                  *_markup(fmt.call_close)))
    else:
        one = Alt(tuple(_call(fmt, t) for t in tools))
        calls = Rep(one, Seq(tuple(_markup(fmt.separator))) if fmt.separator else None) \
            if several else one
    nodes = [*_markup(fmt.section_open), calls]
    if fmt.section_close.strip():
        nodes.append(Opt(Seq(tuple(_markup(fmt.section_close)))))
    root = Seq(tuple(_strip_start(nodes)))
    start = fmt.start.strip()
    return Constraint(root, () if forced else (start,))
