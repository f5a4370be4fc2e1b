"""Plugin discovery and per-backend dispatch.

Every :class:`~hoshikage_core.Hoshikage` builds its own plugin manager with
:func:`create_plugin_manager`; nothing here is global. Backends come from the
``hoshikage`` entry-point group (built-in ones too) and from plugin objects
passed in by an embedding application.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .markers import PROJECT_NAME

__all__ = ["Backend", "PluginInfo", "Plugins", "create_plugin_manager"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = PROJECT_NAME


@dataclass(frozen=True)
class PluginInfo:
    """What ``hoshikage plugins`` shows about one plugin."""

    name: str
    source: str  # "entry point" or "embedded"
    version: str | None = None
    distribution: str | None = None
    hooks: tuple[str, ...] = ()
    error: str | None = None  # set when the plugin failed to import
    unavailable: str | None = None  # set when a backend says it cannot run here

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
        }


BACKEND_HOOKS = (
    "hoshikage_load", "hoshikage_generate", "hoshikage_unload", "hoshikage_validate_options",
    "hoshikage_unavailable_reason", "hoshikage_estimate_memory", "hoshikage_embed",
    "hoshikage_tokenize", "hoshikage_detokenize",
)


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

    def load(self, model: Any) -> Any:
        return self._callers["hoshikage_load"](model=model)

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
        """The import error of plugin ``name``, if it failed to load."""
        info = self.infos.get(name)
        return info.error if info else None

    def describe(self) -> list[PluginInfo]:
        """Every plugin, with backend availability filled in."""
        described = []
        for name in sorted(self.infos):
            info = self.infos[name]
            backend = self.backend(name)
            if backend is not None:
                try:
                    info = replace(info, unavailable=backend.unavailable_reason())
                except Exception as exc:  # a broken check is itself a reason
                    info = replace(info, unavailable=f"availability check failed: {exc}")
            described.append(info)
        return described


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(c.name for c in callers))


def _check_backend_complete(name: str, hooks: tuple[str, ...]) -> None:
    implemented = [h for h in hookspecs.REQUIRED_BACKEND_HOOKS if h in hooks]
    if implemented and len(implemented) != len(hookspecs.REQUIRED_BACKEND_HOOKS):
        missing = [h for h in hookspecs.REQUIRED_BACKEND_HOOKS if h not in hooks]
        raise PluginError(
            f"plugin '{name}' implements {', '.join(implemented)} but not "
            f"{', '.join(missing)}: a backend needs all of "
            f"{', '.join(hookspecs.REQUIRED_BACKEND_HOOKS)}"
        )


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """The group's entry points of every installed distribution.

    ``importlib.metadata.entry_points()`` keeps one entry point per name, which
    would hide a collision; we walk distributions (first on sys.path wins for a
    distribution installed twice) and keep them all.
    """
    found: list[importlib.metadata.EntryPoint] = []
    seen_dists: set[str] = set()
    for dist in importlib.metadata.distributions():
        key = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if key in seen_dists:
            continue
        seen_dists.add(key)
        found.extend(ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)
    return sorted(found, key=lambda ep: (ep.name, ep.value))


def _dist_label(ep: importlib.metadata.EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else ep.value


def create_plugin_manager(
    plugins: Mapping[str, object] | None = None,
    *,
    load_entry_points: bool = True,
) -> Plugins:
    """Build a plugin manager: entry-point plugins, then ``plugins`` (name → object).

    Raises :class:`PluginError` if two plugins claim one name, a backend lacks a
    required hook, or a hook name is misspelled (``check_pending``). A plugin
    that fails to import is recorded in ``infos`` with its error and skipped.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    result = Plugins(pm=pm)
    claimed_by: dict[str, str] = {}

    def register(name: str, obj: object, info: PluginInfo, label: str) -> None:
        if name in claimed_by:
            raise PluginError(
                f"two plugins claim the name '{name}': {claimed_by[name]} and {label}; "
                "uninstall or disable one of them"
            )
        claimed_by[name] = label
        if info.error is None:
            try:
                pm.register(obj, name=name)
            except ValueError as exc:
                raise PluginError(f"plugin '{name}' ({label}) cannot register: {exc}") from exc
            info = replace(info, hooks=_hooks_of(pm, obj))
            _check_backend_complete(name, info.hooks)
        result.infos[name] = info

    if load_entry_points:
        for ep in _entry_points():
            label = _dist_label(ep)
            version = ep.dist.version if ep.dist is not None else None
            dist_name = ep.dist.name if ep.dist is not None else None
            try:
                obj = ep.load()
                error = None
            except Exception as exc:  # report it; keep loading the others
                log.warning("plugin %s (%s) failed to import: %s", ep.name, label, exc)
                obj, error = None, f"{type(exc).__name__}: {exc}"
            info = PluginInfo(ep.name, "entry point", version, dist_name, error=error)
            register(ep.name, obj, info, label)

    for name, obj in (plugins or {}).items():
        version = getattr(obj, "__version__", None)
        register(name, obj, PluginInfo(name, "embedded", version), f"embedded plugin {obj!r}")

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc} (is the hook name misspelled?)") from exc
    return result
