"""Fairness between models: a busy model that others wait for serves at most
``fairness_cap`` more requests, then drains and makes room."""

from __future__ import annotations

from collections.abc import Iterable

from .state import ManagedModel, ModelState

__all__ = ["can_start_now", "grant", "must_yield", "someone_waits_for_room"]


def someone_waits_for_room(model: ManagedModel, models: Iterable[ManagedModel]) -> bool:
    """Whether another model has requests waiting and is not resident."""
    return any(m.queue and not m.holds_memory for m in models if m is not model)


def must_yield(model: ManagedModel, models: Iterable[ManagedModel], cap: int) -> bool:
    """Whether ``model`` has served its share while another waits for room."""
    return model.served_while_others_wait >= cap and someone_waits_for_room(model, models)


def grant(model: ManagedModel, models: Iterable[ManagedModel]) -> None:
    """Give one of ``model``'s slots to a request (the caller checked there is one)."""
    model.running += 1
    model.expires_at = None
    if someone_waits_for_room(model, models):
        model.served_while_others_wait += 1
    else:
        model.served_while_others_wait = 0


def can_start_now(model: ManagedModel, models: Iterable[ManagedModel], cap: int) -> bool:
    """Whether a new request may take a slot at once, ahead of nobody."""
    return (model.state is ModelState.READY and not model.unload_requested
            and model.free_slots > 0 and not model.queue and not must_yield(model, models, cap))
