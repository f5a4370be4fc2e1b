"""What plugins are loaded, what each backend can do, and a dispatcher per backend.

Discovery (entry points, plugin folders, env switches) is in
:mod:`hoshikage_core.plugins.discovery`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

from .capabilities import Capabilities
from .dispatch import BACKEND_HOOKS, BackendDispatcher

__all__ = ["PluginInfo", "PluginRegistry"]


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


@dataclass
class PluginRegistry:
    """A plugin manager plus what we learned while filling it."""

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    _backends: dict[str, BackendDispatcher] = field(default_factory=dict)
    _capabilities: dict[str, Capabilities] = field(default_factory=dict)

    def backend_names(self) -> list[str]:
        return sorted(n for n, info in self.infos.items() if info.is_backend)

    def backend(self, name: str) -> BackendDispatcher | None:
        """The dispatcher for backend ``name``, or None if no plugin has that name."""
        info = self.infos.get(name)
        if info is None or not info.is_backend:
            return None
        if name not in self._backends:
            self._backends[name] = BackendDispatcher(name, self.pm)
        return self._backends[name]

    def capabilities(self, name: str) -> Capabilities | None:
        """What backend ``name`` can do, asked of the plugin once (None: no such backend)."""
        backend = self.backend(name)
        if backend is None:
            return None
        if name not in self._capabilities:
            try:
                unavailable = backend.unavailable_reason()
            except Exception as exc:  # a broken check is itself a reason
                unavailable = f"availability check failed: {exc}"
            self._capabilities[name] = Capabilities(
                name, frozenset(h for h in BACKEND_HOOKS if backend.supports(h)),
                backend.supported_fields(), unavailable)
        return self._capabilities[name]

    def engine(self, name: str) -> Callable[..., Any] | None:
        """Plugin ``name``'s ``hoshikage_engine`` hook (None: no such plugin, or it is not
        an engine), to be called on that plugin only."""
        info = self.infos.get(name)
        if info is None or "hoshikage_engine" not in info.hooks:
            return None
        others = [p for n, p in self.pm.list_name_plugin() if n != name and p is not None]
        caller: Callable[..., Any] = self.pm.subset_hook_caller("hoshikage_engine",
                                                                remove_plugins=others)
        return caller

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
            capabilities = self.capabilities(name)
            if capabilities is not None and not info.disabled:
                info = replace(info, unavailable=capabilities.unavailable)
            described.append(info)
        return described
