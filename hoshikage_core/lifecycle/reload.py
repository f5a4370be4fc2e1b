"""A config reload, in the lifecycle: which models stay, change, come and go.

A model whose weights would load the same (its backend, file, options, ``parallel``
and draft model; the file unchanged on disk since it loaded) keeps running and takes
its other settings at once. One whose weights change finishes its running requests,
unloads, and loads again with the new settings when next needed (its queued requests
wait for that). A removed model serves what it has running and queued, unloads, and
leaves the pool; its name is unknown to new requests at once. Nothing running is cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config.schema import HoshikageConfig
from ..errors import ModelNotFoundError
from .loader import file_stamp
from .pool import ModelPool, model_specs
from .state import ManagedModel, ModelState, Replacement

__all__ = ["ModelChanges", "apply_config", "settle_reloaded"]


@dataclass(frozen=True)
class ModelChanges:
    """What a reload did to each model, by name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reloaded: tuple[str, ...] = ()
    """Their weights change: reloaded once their running requests have finished."""
    updated: tuple[str, ...] = ()
    """Settings taken at once, weights kept (aliases, sampling, limits, timers, pinned)."""
    unchanged: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed),
                "reloaded": list(self.reloaded), "updated": list(self.updated),
                "unchanged": list(self.unchanged)}


def apply_config(pool: ModelPool, config: HoshikageConfig,
                 options: Mapping[str, Any]) -> ModelChanges:
    """Make the pool serve ``config``'s models; what must wait is left for the
    scheduler (:func:`settle_reloaded`). Runs on the event loop, never awaits."""
    specs = model_specs(config, options)
    added, reloaded, updated, unchanged = [], [], [], []
    for name, model_config in config.models.items():
        settings, origin = config.effective(name), config.origin(name)
        model = pool.models.get(name)
        if model is None:
            pool.models[name] = ManagedModel(name, model_config, settings, specs[name], origin)
            added.append(name)
            continue
        was_removed, model.removed = model.removed, False
        pending = model.replacement or model
        replaced_on_disk = model.file_stamp is not None and \
            file_stamp(specs[name].path) != model.file_stamp
        if specs[name] != pending.spec or replaced_on_disk:
            model.replacement = Replacement(model_config, settings, specs[name], origin)
            reloaded.append(name)
            continue
        model.replacement = None  # back to the weights it has (a reload undone)
        if (model_config, settings, origin) == (model.config, model.settings, model.origin) \
                and not was_removed:
            unchanged.append(name)
        else:
            timer_changed = (settings.idle_timeout != model.settings.idle_timeout
                             or model_config.pinned != model.config.pinned)
            model.configure(model_config, settings, origin)
            if model.is_idle and timer_changed:  # counted from now (none while pinned)
                model.mark_idle(pool.clock.monotonic())
            updated.append(name)
    removed = [name for name, model in pool.models.items()
               if name not in config.models and not model.removed]
    for name in removed:
        pool.models[name].removed = True
        pool.models[name].replacement = None
    pool.set_limits(config)
    return ModelChanges(tuple(added), tuple(removed), tuple(reloaded), tuple(updated),
                        tuple(unchanged))


def settle_reloaded(pool: ModelPool, model: ManagedModel) -> bool:
    """Move a changed or removed model on; True when its weights must unload now.

    An unloaded model takes its new settings, or, removed, leaves the pool (failing
    requests still queued for it, which can only be ones that never got to run)."""
    if model.holds_memory:
        if model.removed:
            return model.state is ModelState.READY and not model.running and not model.queue
        model.unload_requested = True
        return False  # the scheduler unloads it once its running requests finish
    if model.removed:
        model.fail_waiters(ModelNotFoundError(model.name, available=pool.served_names()))
        del pool.models[model.name]
    else:
        model.take_replacement()
    return False
