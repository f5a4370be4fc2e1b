"""Streaming text helpers shared by backends: stop sequences that may span chunks."""

from __future__ import annotations

import codecs
from collections.abc import Iterable

from ..types import Chunk, FinishReason, TokenLogprob, Usage

__all__ = ["StopMatcher", "TokenTextStream"]


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
        self.matched: str | None = None
        """The stop sequence that was hit."""

    def feed(self, text: str) -> tuple[str, bool]:
        if self.stopped:
            return "", True
        if not self._stops:
            return text, False
        buffer = self._pending + text
        found = [(i, s) for s, i in ((s, buffer.find(s)) for s in self._stops) if i >= 0]
        if found:
            cut, self.matched = min(found, key=lambda hit: hit[0])
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


class TokenTextStream:
    """Turn generated tokens' bytes into chunks: UTF-8 safe, stop-aware.

    A backend's loop calls :meth:`push` with each token's bytes (and its
    log probability, if asked for) and :meth:`finish` at the end. Multi-byte
    characters split across tokens are joined; text that may start a stop
    sequence is held back; log probabilities travel with the text they made.
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = StopMatcher(stops)
        self._pending: list[TokenLogprob] = []
        self._tokens = 0  # pushed since the last chunk

    @property
    def stopped(self) -> bool:
        """A stop sequence was hit; the generation should end."""
        return self._stops.stopped

    def push(self, piece: bytes, logprob: TokenLogprob | None = None) -> Chunk | None:
        """A chunk to yield for this token, or None if its text is held back."""
        if logprob is not None:
            self._pending.append(logprob)
        self._tokens += 1
        text, _ = self._stops.feed(self._decoder.decode(piece))
        if not text:
            return None
        chunk = Chunk(text=text, logprobs=tuple(self._pending), tokens=self._tokens)
        self._pending, self._tokens = [], 0
        return chunk

    def finish(self, finish_reason: FinishReason, usage: Usage) -> Chunk:
        """The final chunk: held-back text (unless a stop sequence ate it), reason, usage."""
        tail = ""
        if not self._stops.stopped:
            tail, _ = self._stops.feed(self._decoder.decode(b"", final=True))
            if not self._stops.stopped:
                tail += self._stops.flush()
        if self._stops.stopped:
            finish_reason = "stop"
        logprobs = () if self._stops.stopped else tuple(self._pending)
        return Chunk(text=tail, finish_reason=finish_reason, usage=usage, logprobs=logprobs,
                     tokens=self._tokens if tail else 0, stop_sequence=self._stops.matched)
