"""Which upstream server to try next: least busy first, failed ones last."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["UpstreamPool"]


class UpstreamPool:
    """In-flight counts and health of a list of servers. Thread-safe."""

    def __init__(self, urls: list[str], unhealthy_for: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._urls = list(urls)
        self._busy = dict.fromkeys(urls, 0)
        self._down_until = dict.fromkeys(urls, 0.0)
        self._unhealthy_for = unhealthy_for
        self._clock = clock
        self._lock = threading.Lock()

    def order(self) -> list[str]:
        """Every server, in the order to try: healthy by fewest requests, then failed
        ones by how soon they may be retried (a dead pool still fails fast, not never)."""
        now = self._clock()
        with self._lock:
            healthy = [u for u in self._urls if self._down_until[u] <= now]
            down = [u for u in self._urls if self._down_until[u] > now]
            healthy.sort(key=lambda u: (self._busy[u], self._urls.index(u)))
            down.sort(key=lambda u: self._down_until[u])
        return healthy + down

    def failed(self, url: str) -> None:
        with self._lock:
            self._down_until[url] = self._clock() + self._unhealthy_for

    def succeeded(self, url: str) -> None:
        with self._lock:
            self._down_until[url] = 0.0

    @contextmanager
    def lease(self, url: str) -> Iterator[None]:
        with self._lock:
            self._busy[url] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[url] -= 1

    def busy(self) -> dict[str, int]:
        with self._lock:
            return dict(self._busy)
