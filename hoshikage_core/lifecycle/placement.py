"""Residency decisions: does a model fit, and which idle models must make room."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ..config.sizes import format_bytes
from ..errors import PinnedModelsInTheWayError
from .state import ManagedModel

__all__ = ["beside_pinned", "choose_victims", "fits"]


def fits(resident: Sequence[ManagedModel], need: int, max_loaded: int,
         budget: int | None) -> bool:
    """Would one more model of ``need`` bytes fit next to ``resident``?"""
    if len(resident) + 1 > max_loaded:
        return False
    if budget is None:
        return True
    return sum(m.memory_bytes or 0 for m in resident) + need <= budget


def choose_victims(
    candidate: ManagedModel,
    models: Sequence[ManagedModel],
    *,
    max_loaded: int,
    budget: int | None,
    evictable: Callable[[ManagedModel], bool],
) -> list[ManagedModel] | None:
    """The least recently used evictable models to unload so ``candidate`` fits.

    ``[]``: it fits now. ``None``: even unloading every evictable model is not
    enough (busy models stand in the way): wait.
    """
    resident = [m for m in models if m.holds_memory and m is not candidate]
    need = candidate.memory_bytes or 0
    if fits(resident, need, max_loaded, budget):
        return []
    victims: list[ManagedModel] = []
    for victim in sorted((m for m in resident if evictable(m)),
                         key=lambda m: m.last_used or 0.0):
        victims.append(victim)
        remaining = [m for m in resident if m not in victims]
        if fits(remaining, need, max_loaded, budget):
            return victims
    return None


def beside_pinned(candidate: ManagedModel, models: Iterable[ManagedModel], max_loaded: int,
                  budget: int | None) -> PinnedModelsInTheWayError | None:
    """The error for ``candidate`` if it cannot fit beside the loaded pinned models
    (which never make room, so waiting would not help); None if it can."""
    if candidate.holds_memory:
        return None
    pinned = [m for m in models if m.pinned and m.holds_memory and m is not candidate]
    if not pinned or fits(pinned, candidate.memory_bytes or 0, max_loaded, budget):
        return None
    names = ", ".join(f"'{m.name}' ({format_bytes(m.memory_bytes)})" for m in pinned)
    limits = f"max_loaded_models = {max_loaded}" + (
        f", memory_budget = {format_bytes(budget)}" if budget is not None else "")
    return PinnedModelsInTheWayError(
        f"Model '{candidate.name}' (about {format_bytes(candidate.memory_bytes)}) does not fit "
        f"beside the pinned models {names} ({limits}), and pinned models are never unloaded "
        f"to make room. Unpin one (hoshikage unpin {pinned[0].name}) or raise the limits.")
