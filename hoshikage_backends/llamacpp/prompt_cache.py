"""A byte-bounded cache in host memory of sequences evicted from the KV cache.

When a slot is about to be given to a prompt that does not continue what it
holds, the engine saves that sequence's state (llama.cpp's per-sequence state:
the KV cells of its tokens) here. A later prompt that starts with those tokens
restores them into a free slot and evaluates only the rest. Entries are kept
least recently used first and dropped, oldest first, to stay under the
configured bytes. An entry whose tokens are a prefix of a newer one is
redundant and is dropped when the newer one arrives.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

__all__ = ["CachedSequence", "HostPromptCache", "common_prefix", "restore_sequence",
           "save_sequence"]


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share (slice comparisons run in C)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(eq=False)
class CachedSequence:
    """One saved sequence: its tokens and llama.cpp's state bytes for them."""

    tokens: list[int]
    state: Any  # a ctypes byte array
    size: int


class HostPromptCache:
    """Saved sequences, least recently used first, at most ``capacity`` bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, CachedSequence] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def best(self, prompt: list[int]) -> tuple[CachedSequence | None, int]:
        """The entry sharing the longest prefix with ``prompt``, and that length."""
        best: CachedSequence | None = None
        length = 0
        for entry in self._entries.values():
            shared = common_prefix(entry.tokens, prompt)
            if shared > length:
                best, length = entry, shared
        return best, length

    def covers(self, tokens: list[int]) -> bool:
        """True if an entry already holds ``tokens`` (as itself or as its prefix)."""
        return any(len(e.tokens) >= len(tokens) and e.tokens[:len(tokens)] == tokens
                   for e in self._entries.values())

    def touch(self, entry: CachedSequence) -> None:
        self._entries.move_to_end(id(entry))

    def store(self, tokens: list[int], state: Any, size: int) -> bool:
        """Keep ``state`` for ``tokens``; False if it is larger than the whole cache."""
        if size > self.capacity:
            return False
        for key, entry in list(self._entries.items()):
            if len(entry.tokens) <= len(tokens) and tokens[:len(entry.tokens)] == entry.tokens:
                self._drop(key)  # the new entry holds all of this one
        while self._entries and self.bytes + size > self.capacity:
            self._drop(next(iter(self._entries)))
        entry = CachedSequence(list(tokens), state, size)
        self._entries[id(entry)] = entry
        self.bytes += size
        return True

    def _drop(self, key: int) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.size

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def save_sequence(lib: Any, ctx: Any, seq_id: int) -> tuple[Any, int] | None:
    """A copy of sequence ``seq_id``'s state in host memory, or None if it has none."""
    size = lib.llama_state_seq_get_size(ctx, seq_id)
    if size <= 0:
        return None
    buffer = (ctypes.c_uint8 * size)()
    written = lib.llama_state_seq_get_data(ctx, buffer, size, seq_id)
    if written <= 0:
        return None
    return buffer, int(written)


def restore_sequence(lib: Any, ctx: Any, seq_id: int, entry: CachedSequence) -> bool:
    """Load a saved state into sequence ``seq_id`` (replacing what it held)."""
    return bool(lib.llama_state_seq_set_data(ctx, entry.state, entry.size, seq_id))
