"""The Jinja environment chat templates run in: a GGUF is untrusted input.

Sandboxed as transformers does (no Python internals, no files, no environment),
but lists and dicts the template builds may change (``append``, ``pop``: real
templates use them); what the template receives is a copy. Work is bounded:
``range`` and ``*`` cannot make huge values, loops through ``range`` share one
budget, and the output stops at a size limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from jinja2 import Undefined, nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["MAX_LOOP_STEPS", "MAX_OUTPUT_CHARS", "TemplateError", "render_bounded",
           "template_environment"]

MAX_OUTPUT_CHARS = 4_000_000  # far beyond any context; a runaway template stops here
MAX_LOOP_STEPS = 1_000_000  # range() items per render, all loops together
MAX_PRODUCT = 1_000_000  # the largest string or list `*` may make


class TemplateError(ValueError):
    """A chat template failed: it rejected the messages, or it ran out of bounds."""


class _Generation(Extension):
    """transformers' ``{% generation %}...{% endgeneration %}``: it marks the
    assistant's tokens for training; rendering keeps the body as it is."""

    tags = {"generation"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, separators=separators,
                      sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


class _LenientUndefined(Undefined):
    """A missing value joins text as nothing: ``'(' + tool.description + ')'`` works for
    a tool without a description (clients often leave them out)."""

    def __add__(self, other: Any) -> Any:
        return other if isinstance(other, str) else super().__add__(other)

    def __radd__(self, other: Any) -> Any:
        return other if isinstance(other, str) else super().__radd__(other)


class _BoundedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(trim_blocks=True, lstrip_blocks=True, undefined=_LenientUndefined,
                         extensions=[loopcontrols, _Generation])
        self.filters["tojson"] = _tojson
        self.globals.update(raise_exception=_raise_exception,
                            strftime_now=lambda fmt: datetime.now().strftime(fmt))

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateError("the template raises a number to too large a power")
        if operator_ == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) \
                        and len(seq) * count > MAX_PRODUCT:
                    raise TemplateError("the template builds too large a value")
        return super().call_binop(context, operator_, left, right)


def template_environment() -> SandboxedEnvironment:
    """A new bounded sandbox for compiling chat templates."""
    return _BoundedEnvironment()


class _Budget:
    def __init__(self) -> None:
        self.steps = 0

    def range(self, *args: int) -> Iterator[int]:
        items = range(*args)
        if self.steps + len(items) > MAX_LOOP_STEPS:
            raise TemplateError("the template loops too long")
        self.steps += len(items)
        return iter(items)


def render_bounded(template: Any, context: dict[str, Any]) -> str:
    """Render a compiled template with ``context``, within the bounds above."""
    budget = _Budget()
    parts: list[str] = []
    size = 0
    try:
        for piece in template.generate({**context, "range": budget.range}):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"the template wrote more than {MAX_OUTPUT_CHARS} "
                                    "characters")
            parts.append(piece)
    except TemplateError:
        raise
    except RecursionError:
        raise TemplateError("the template recursed too deep") from None
    except Exception as exc:  # jinja errors, and what templates raise
        raise TemplateError(f"{type(exc).__name__}: {exc}") from exc
    return "".join(parts)
