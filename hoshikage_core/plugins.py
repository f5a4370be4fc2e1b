"""What plugins are loaded, and per-backend dispatch to exactly one of them.

Discovery (entry points, plugin folders, env switches) is in
:mod:`hoshikage_core.plugin_loading`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

__all__ = ["BACKEND_HOOKS", "Backend", "PluginInfo", "Plugins"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginInfo:
    """What ``hoshikage plugins`` shows about one plugin."""

    name: str
    source: str  # "entry point", "dir" or "embedded"
    version: str | None = None
    distribution: str | None = None
    hooks: tuple[str, ...] = ()
    error: str | None = None  # set when the plugin failed to import
    unavailable: str | None = None  # set when a backend says it cannot run here
    disabled: str | None = None  # set when a switch kept it from loading, says which

    @property
    def is_backend(self) -> bool:
        return "hoshikage_load" in self.hooks

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": list(self.hooks),
            "error": self.error,
            "unavailable": self.unavailable,
            "disabled": self.disabled,
        }


BACKEND_HOOKS = (
    "hoshikage_load", "hoshikage_generate", "hoshikage_unload", "hoshikage_validate_options",
    "hoshikage_unavailable_reason", "hoshikage_estimate_memory", "hoshikage_embed",
    "hoshikage_tokenize", "hoshikage_detokenize", "hoshikage_supported_fields",
)


def _ignore(fraction: float) -> None:
    """The load progress callback when nobody listens."""


class Backend:
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

    def validate_options(self, model: Any) -> Mapping[str, Any] | None:
        return self._callers["hoshikage_validate_options"](model=model)

    def unavailable_reason(self) -> str | None:
        return self._callers["hoshikage_unavailable_reason"]()

    def estimate_memory(self, model: Any) -> int | None:
        return self._callers["hoshikage_estimate_memory"](model=model)

    def embed(self, handle: Any, inputs: Any) -> Any:
        return self._callers["hoshikage_embed"](handle=handle, inputs=inputs)

    def tokenize(self, handle: Any, text: str, add_special: bool) -> list[int]:
        return self._callers["hoshikage_tokenize"](handle=handle, text=text,
                                                   add_special=add_special)

    def detokenize(self, handle: Any, tokens: Any) -> str:
        return self._callers["hoshikage_detokenize"](handle=handle, tokens=tokens)

    def supported_fields(self) -> frozenset[str]:
        if not self.supports("hoshikage_supported_fields"):
            return frozenset()
        return frozenset(self._callers["hoshikage_supported_fields"]() or ())


@dataclass
class Plugins:
    """A plugin manager plus what we learned while filling it."""

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    _backends: dict[str, Backend] = field(default_factory=dict)

    def backend_names(self) -> list[str]:
        return sorted(n for n, info in self.infos.items() if info.is_backend)

    def backend(self, name: str) -> Backend | None:
        """The dispatcher for backend ``name``, or None if no plugin has that name."""
        info = self.infos.get(name)
        if info is None or not info.is_backend:
            return None
        if name not in self._backends:
            self._backends[name] = Backend(name, self.pm)
        return self._backends[name]

    def failed(self, name: str) -> str | None:
        """Why plugin ``name`` is not loaded (import error or disabling switch), if so."""
        info = self.infos.get(name)
        if info is None:
            return None
        return info.error or (f"disabled by {info.disabled}" if info.disabled else None)

    def describe(self) -> list[PluginInfo]:
        """Every plugin, with backend availability filled in."""
        described = []
        for name in sorted(self.infos):
            info = self.infos[name]
            backend = self.backend(name)
            if backend is not None and not info.disabled:
                try:
                    info = replace(info, unavailable=backend.unavailable_reason())
                except Exception as exc:  # a broken check is itself a reason
                    info = replace(info, unavailable=f"availability check failed: {exc}")
            described.append(info)
        return described
