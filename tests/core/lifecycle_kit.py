"""Helpers for the lifecycle tests: a config of echo models, waits by event-loop
turns, a turnstile that decides when each generation ends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hoshikage_core import Hoshikage
from hoshikage_core.serving import TextResult
from tests.fakes import EchoBackend


async def eventually(predicate: Callable[[], bool], turns: int = 5000) -> None:
    """Wait until ``predicate()`` holds; worker threads need real (short) sleeps."""
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")


def states(hk: Hoshikage) -> dict[str, str]:
    return {m.id: m.state.value for m in hk.list_models()}


def build(tmp_path: Path, models: dict[str, dict[str, Any]], **defaults: Any) -> dict[str, Any]:
    model_file = tmp_path / "m.bin"
    if not model_file.exists():  # written once: a reload test sees it unchanged
        model_file.write_bytes(b"x" * 10)
    return {
        "defaults": defaults,
        "models": {name: {"backend": "echo", "path": str(model_file), **spec}
                   for name, spec in models.items()},
    }


async def complete(hk: Hoshikage, model: str, text: str = "hi", **kw: Any) -> TextResult:
    return await hk.complete(text, model=model, **kw)


def hold(echo: EchoBackend) -> threading.Semaphore:
    echo.turnstile = threading.Semaphore(0)
    return echo.turnstile
