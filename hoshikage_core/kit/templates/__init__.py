"""Chat templates for backends: the model's own (a GGUF's ``tokenizer.chat_template``)
or a named one, rendered in a bounded sandbox with transformers' semantics.

The named templates import nothing heavy (config validation checks names with
them); the renderer and jinja2 load on first use.
"""

from typing import Any

from .named import CHATML, NAMED_TEMPLATES, NamedTemplate

__all__ = ["CHATML", "NAMED_TEMPLATES", "ChatTemplate", "NamedTemplate", "TemplateCaps",
           "TemplateError", "messages_for_template", "tools_for_template"]

_LAZY = {"ChatTemplate": "render", "TemplateCaps": "render", "TemplateError": "sandbox",
         "messages_for_template": "messages", "tools_for_template": "messages"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
