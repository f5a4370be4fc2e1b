"""Calls to one backend plugin's hooks, and no other plugin's (pluggy's
``subset_hook_caller``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = ["BACKEND_HOOKS", "BackendDispatcher"]


BACKEND_HOOKS = (
    "hoshikage_load", "hoshikage_generate", "hoshikage_unload", "hoshikage_validate_options",
    "hoshikage_unavailable_reason", "hoshikage_estimate_memory", "hoshikage_embed",
    "hoshikage_tokenize", "hoshikage_detokenize", "hoshikage_supported_fields",
    "hoshikage_chat_template", "hoshikage_rerank",
)


def _ignore(fraction: float) -> None:
    """The load progress callback when nobody listens."""


class BackendDispatcher:
    """Calls one plugin's hooks, and no other plugin's."""

    def __init__(self, name: str, pm: pluggy.PluginManager) -> None:
        self.name = name
        plugin = pm.get_plugin(name)
        others = [p for n, p in pm.list_name_plugin() if n != name and p is not None]
        self._implemented = {c.name for c in (pm.get_hookcallers(plugin) or [])}
        self._callers = {hook: pm.subset_hook_caller(hook, remove_plugins=others)
                         for hook in BACKEND_HOOKS}

    def supports(self, hook: str) -> bool:
        """Whether this backend implements the (optional) hook ``hook``."""
        return hook in self._implemented

    def load(self, model: Any, progress: Callable[[float], None] | None = None) -> Any:
        return self._callers["hoshikage_load"](model=model, progress=progress or _ignore)

    def generate(self, handle: Any, request: Any) -> Any:
        return self._callers["hoshikage_generate"](handle=handle, request=request)

    def unload(self, handle: Any) -> None:
        self._callers["hoshikage_unload"](handle=handle)

    def validate_options(self, model: Any) -> Any:
        return self._callers["hoshikage_validate_options"](model=model)

    def unavailable_reason(self) -> str | None:
        return self._callers["hoshikage_unavailable_reason"]()

    def estimate_memory(self, model: Any) -> int | None:
        return self._callers["hoshikage_estimate_memory"](model=model)

    def embed(self, handle: Any, inputs: Any) -> Any:
        return self._callers["hoshikage_embed"](handle=handle, inputs=inputs)

    def rerank(self, handle: Any, query: str, documents: Any) -> Any:
        return self._callers["hoshikage_rerank"](handle=handle, query=query,
                                                 documents=documents)

    def tokenize(self, handle: Any, text: str, add_special: bool) -> list[int]:
        return self._callers["hoshikage_tokenize"](handle=handle, text=text,
                                                   add_special=add_special)

    def detokenize(self, handle: Any, tokens: Any) -> str:
        return self._callers["hoshikage_detokenize"](handle=handle, tokens=tokens)

    def chat_template(self, handle: Any) -> Any:
        return self._callers["hoshikage_chat_template"](handle=handle)

    def supported_fields(self) -> frozenset[str]:
        if not self.supports("hoshikage_supported_fields"):
            return frozenset()
        return frozenset(self._callers["hoshikage_supported_fields"]() or ())
