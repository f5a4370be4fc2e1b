"""Finding plugins: entry points, a plugin folder, embedded objects, env switches.

Every :class:`~hoshikage_core.Hoshikage` builds its own plugin manager with
:func:`create_plugin_manager`; nothing here is global. Backends come from the
``hoshikage`` entry-point group (built-in ones too), from ``*.py`` files in a
folder (``[plugins] dir``), and from plugin objects an embedding application
passes in.

Switches (environment, read when the manager is built):

- ``HOSHIKAGE_LOAD_PLUGINS=a,b``: load only these entry-point and folder plugins
  (set but empty: none of them);
- ``HOSHIKAGE_DISABLE_PLUGINS=a,b``: never load these (also ``[plugins] disable``);
- ``HOSHIKAGE_TRACE_PLUGINS=1``: log every hook call and result.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import pluggy

from .. import hookspecs
from ..errors import PluginError
from ..markers import PROJECT_NAME
from .registry import PluginInfo, PluginRegistry

__all__ = ["ENTRY_POINT_GROUP", "create_plugin_manager"]

log = logging.getLogger(__name__)
trace_log = logging.getLogger("hoshikage.plugins.trace")

ENTRY_POINT_GROUP = PROJECT_NAME
LOAD_ENV, DISABLE_ENV, TRACE_ENV = ("HOSHIKAGE_LOAD_PLUGINS", "HOSHIKAGE_DISABLE_PLUGINS",
                                    "HOSHIKAGE_TRACE_PLUGINS")


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


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def _dir_plugins(folder: Path) -> list[tuple[str, Path]]:
    if not folder.is_dir():
        raise PluginError(f"plugin folder {folder} does not exist")
    return [(path.stem, path) for path in sorted(folder.glob("*.py"))
            if not path.name.startswith("_")]


def _import_file(name: str, path: Path) -> object:
    module_name = f"hoshikage_dir_plugin_{name}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def create_plugin_manager(
    plugins: Mapping[str, object] | None = None,
    *,
    load_entry_points: bool = True,
    plugin_dir: Path | None = None,
    disable: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> PluginRegistry:
    """Build a plugin manager: entry points, then ``plugin_dir``, then ``plugins``.

    ``plugins`` maps names to plugin objects made by the embedding application;
    they are always loaded. ``disable`` and the environment switches (see the
    module docstring) apply to entry-point and folder plugins.

    Raises :class:`PluginError` if two plugins claim one name, a backend lacks a
    required hook, or a hook name is misspelled (``check_pending``). A plugin
    that fails to import is recorded in ``infos`` with its error and skipped.
    """
    env = os.environ if environ is None else environ
    allowed = _names(env.get(LOAD_ENV))
    blocked = (_names(env.get(DISABLE_ENV)) or set())
    disabled_in_config = set(disable)
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    result = PluginRegistry(pm=pm)
    claimed_by: dict[str, str] = {}

    def switched_off(name: str) -> str | None:
        if name in blocked:
            return DISABLE_ENV
        if name in disabled_in_config:
            return "[plugins] disable"
        if allowed is not None and name not in allowed:
            return LOAD_ENV
        return None

    def register(name: str, obj: object, info: PluginInfo, label: str) -> None:
        if name in claimed_by:
            raise PluginError(
                f"two plugins claim the name '{name}': {claimed_by[name]} and {label}; "
                "uninstall or disable one of them"
            )
        claimed_by[name] = label
        if info.error is None and info.disabled is None:
            try:
                pm.register(obj, name=name)
            except ValueError as exc:
                raise PluginError(f"plugin '{name}' ({label}) cannot register: {exc}") from exc
            info = replace(info, hooks=_hooks_of(pm, obj))
            _check_backend_complete(name, info.hooks)
        result.infos[name] = info

    def load(name: str, source: str, label: str, version: str | None, dist: str | None,
             importer: object) -> None:
        reason = switched_off(name)
        obj, error = None, None
        if reason is None:
            try:
                obj = importer()  # type: ignore[operator]
            except Exception as exc:  # report it; keep loading the others
                log.warning("plugin %s (%s) failed to import: %s", name, label, exc)
                error = f"{type(exc).__name__}: {exc}"
        register(name, obj, PluginInfo(name, source, version, dist, error=error,
                                       disabled=reason), label)

    if load_entry_points:
        for ep in _entry_points():
            version = ep.dist.version if ep.dist is not None else None
            dist_name = ep.dist.name if ep.dist is not None else None
            load(ep.name, "entry point", _dist_label(ep), version, dist_name, ep.load)

    if plugin_dir is not None:
        for name, path in _dir_plugins(plugin_dir):
            load(name, "dir", str(path), None, None, lambda p=path, n=name: _import_file(n, p))

    for name, obj in (plugins or {}).items():
        version = getattr(obj, "__version__", None)
        register(name, obj, PluginInfo(name, "embedded", version), f"embedded plugin {obj!r}")

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc} (is the hook name misspelled?)") from exc
    if env.get(TRACE_ENV, "").strip() not in ("", "0", "false", "no"):
        pm.trace.root.setwriter(lambda message: trace_log.info(message.rstrip()))
        pm.enable_tracing()
    return result
