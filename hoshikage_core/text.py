"""Streaming text helpers shared by backends: stop sequences that may span chunks."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["StopMatcher"]


class StopMatcher:
    """Cut streamed text at the first stop sequence, never leaking part of one.

    Feed text as it is generated; ``feed`` returns what is safe to emit and
    whether a stop sequence was hit. Text that might be the start of a stop
    sequence is held back until the next piece decides it; ``flush`` returns
    it when the generation ends for another reason.
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> tuple[str, bool]:
        if self.stopped:
            return "", True
        if not self._stops:
            return text, False
        buffer = self._pending + text
        cut = min((i for i in (buffer.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self._pending = ""
            self.stopped = True
            return buffer[:cut], True
        hold = self._partial_suffix(buffer)
        self._pending = buffer[len(buffer) - hold:] if hold else ""
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        """The held-back text; call once the generation ended without a stop."""
        text, self._pending = self._pending, ""
        return text

    def _partial_suffix(self, buffer: str) -> int:
        """Length of the longest end of ``buffer`` that begins some stop sequence."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:n]):
                    best = n
                    break
        return best
