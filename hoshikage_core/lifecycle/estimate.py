"""A model's memory footprint, known before it loads (for ``memory_budget``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..config.sizes import format_bytes
from ..errors import ModelLoadError, ModelTooLargeError
from .pool import ModelPool
from .state import ManagedModel

__all__ = ["ensure_estimate"]


async def ensure_estimate(pool: ModelPool, model: ManagedModel,
                          fail: Callable[[ManagedModel, BaseException], None]) -> None:
    """Fill ``model.memory_bytes`` (once: its requests share one estimate) from the
    backend's estimate, else the file's size; refuse a model that never fits.

    An estimate that raises fails the model through ``fail``, with the reason."""
    while model.memory_bytes is None:
        if model.estimating is None:
            backend = pool.backend(model)
            model.estimating = asyncio.ensure_future(
                pool.in_worker(backend.estimate_memory, model.spec))
        estimating = model.estimating
        try:
            estimate = await asyncio.shield(estimating)
        except Exception as exc:
            error = ModelLoadError(
                f"Model '{model.name}' cannot be loaded: {type(exc).__name__}: {exc}")
            if model.estimating is estimating:  # the first to see it records it
                model.estimating = None
                fail(model, error)
            raise error from exc
        if model.memory_bytes is None and model.estimating is estimating:
            if estimate is None:
                path = model.spec.path
                estimate = path.stat().st_size if path is not None and path.exists() else 0
            model.memory_bytes = int(estimate)
        # else a reload changed the model meanwhile: estimate its new settings
    if pool.budget is not None and model.memory_bytes > pool.budget:
        raise ModelTooLargeError(
            f"Model '{model.name}' needs about {format_bytes(model.memory_bytes)}, more than "
            f"the whole memory_budget of {format_bytes(pool.budget)}. Raise "
            "[defaults] memory_budget, or lower the model's n_ctx or use a smaller file.")
