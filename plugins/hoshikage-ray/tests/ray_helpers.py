"""Helpers for tests of Hoshikage on Ray: the admin API of a running server, and waits
user starts it, one per test module (starting Ray and its replicas takes seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

KEY = "sk-ray-tests-0123"


def admin(url: str, model: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/admin/models/{model}",
                         headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def wait_for(what: str, check: Callable[[], Any], *, bound: float = 120.0) -> Any:
    """Poll ``check`` until it returns something true; the bound is a hang guard for
    things Ray does in its own time (starting, replacing, removing replicas)."""
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {bound:.0f} s; last: {value!r}")
        time.sleep(0.25)


def live_replicas(url: str, model: str) -> list[dict[str, Any]]:
    return [r for r in admin(url, model)["replicas"] if r["state"] != "failed"]
