"""Load progress: from a backend's loading thread to the event loop and its listeners."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..types import LoadProgress
from .state import ModelState

__all__ = ["LoadEvent", "LoadListener", "LoadWatchers", "progress_reporter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadEvent:
    """A model's load starting, advancing or ending.

    ``state`` is ``loading`` while it is under way (``progress`` from 0.0 up,
    or ``None`` when the backend does not report progress), then ``ready``
    (``progress`` 1.0) or ``failed`` (``error`` says why).
    """

    model: str
    state: ModelState
    progress: float | None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.state is not ModelState.LOADING


LoadListener = Callable[[LoadEvent], None]
"""Called on the event loop for every :class:`LoadEvent`; must not block."""


class LoadWatchers:
    """The listeners of one model manager's load events."""

    def __init__(self) -> None:
        self._listeners: list[LoadListener] = []

    def add(self, listener: LoadListener) -> Callable[[], None]:
        """Call ``listener`` for every load event from now on; returns a function
        that stops it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def emit(self, event: LoadEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break loading
                log.exception("load listener %r failed", listener)


def progress_reporter(loop: asyncio.AbstractEventLoop,
                      on_progress: Callable[[float], None]) -> LoadProgress:
    """A :data:`LoadProgress` for a backend: callable from any thread, it hands
    each advance of a whole percent to ``on_progress`` on ``loop``."""
    lock = threading.Lock()
    last = -1

    def report(fraction: float) -> None:
        nonlocal last
        percent = int(min(1.0, max(0.0, float(fraction))) * 100)
        with lock:
            if percent <= last:
                return
            last = percent
        try:
            loop.call_soon_threadsafe(on_progress, percent / 100)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            pass

    return report
