"""Residency decisions: does a model fit, and which idle models must make room."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .state import ManagedModel

__all__ = ["choose_victims", "fits"]


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
