"""Where a new prompt's prefix is already computed, and putting it in a slot.

Three places may hold KV cells for the start of a prompt: a free slot that
served an earlier request (its cells are still there), another slot, busy or
free (its cells are copied into the free one), and the host-memory prompt cache
(a saved sequence is restored into the free one). :class:`PrefixReuse` picks the
longest, installs it in a free slot, and trims it to the part the prompt shares,
so only the rest is evaluated. A slot whose tokens would be lost is saved to the
host cache first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .prompt_cache import HostPromptCache, common_prefix, restore_sequence, save_sequence
from .runtime import Runtime

if TYPE_CHECKING:
    from .engine import Slot

__all__ = ["MIN_GAIN", "MIN_SAVE", "PrefixReuse", "ReuseCounts", "worth_copying"]

log = logging.getLogger(__name__)

MIN_GAIN = 4  # tokens another source must add over the slot's own cells to be worth it
MIN_SAVE = 4  # fewer lost tokens than this are not worth saving
# Saving or restoring copies a whole sequence (for an 8B model about 128 KB a token).
# Evaluating a token costs far more than copying one: on a CPU a thousand times more
# (8 ms against 5 us for SmolLM2 here), on a GPU, whose restores cross the bus, less.
COPIES_PER_EVAL = {"cpu": 256, "gpu": 16}


def worth_copying(tokens: int, gained: int, least: int, copies_per_eval: int) -> bool:
    """Whether copying a sequence of ``tokens`` to keep ``gained`` tokens pays."""
    return gained >= max(least, tokens // copies_per_eval)


@dataclass
class ReuseCounts:
    """Prompt tokens not evaluated again, by where their cells came from."""

    slot: int = 0  # the slot's own cells
    copied: int = 0  # copied from another slot
    restored: int = 0  # restored from the host-memory cache
    saved_sequences: int = 0  # sequences saved to the host-memory cache


class PrefixReuse:
    """Places jobs in free slots with the longest already-computed prefix."""

    def __init__(self, runtime: Runtime, host: HostPromptCache | None) -> None:
        self._rt = runtime
        self.host = host
        self.counts = ReuseCounts()
        # a cross-stream copy moves the whole stream buffer: worth it for this many tokens
        self._min_copy = max(MIN_GAIN, runtime.n_ctx_seq // 64)
        self._copy_sources: set[int] = set()
        self._copies_per_eval = COPIES_PER_EVAL["gpu" if runtime.on_gpu else "cpu"]

    def new_round(self) -> None:
        """Call before placing the jobs of one step: copies queued in the last one are
        done (llama.cpp copies streams at the start of the next decode)."""
        self._copy_sources.clear()

    def place(self, prompt: list[int], slots: list[Slot]) -> tuple[Slot, int]:
        """A free slot for ``prompt``, holding the cells of its first ``keep`` tokens;
        returns the slot and ``keep`` (at most ``len(prompt) - 1``: the last prompt
        token is always evaluated, for its logits)."""
        limit = len(prompt) - 1
        shared = {s.seq_id: min(common_prefix(s.cached, prompt), limit) for s in slots}
        target = self._target([s for s in slots if s.job is None], shared)
        own = shared[target.seq_id]
        source = max((s for s in slots if s is not target), key=lambda s: shared[s.seq_id],
                     default=None)
        copy_length = shared[source.seq_id] if source is not None else 0
        entry, host_length = self.host.best(prompt) if self.host is not None else (None, 0)
        host_length = min(host_length, limit)
        if source is not None and copy_length >= max(host_length, own + self._min_copy):
            self._save(target, own)
            self._copy(source, target)
            keep = self._trim(target, copy_length)
            self.counts.copied += keep
            return target, keep
        if (entry is not None and worth_copying(len(entry.tokens), host_length - own, MIN_GAIN,
                                                   self._copies_per_eval)
                and target.seq_id not in self._copy_sources):  # a restore writes at once
            self._save(target, own)
            if restore_sequence(self._rt.lib, self._rt.context.ctx, target.seq_id, entry):
                assert self.host is not None
                self.host.touch(entry)
                target.cached = list(entry.tokens)
                keep = self._trim(target, host_length)
                self.counts.restored += keep
                return target, keep
            log.warning("could not restore a saved prompt of %d tokens; evaluating it",
                        len(entry.tokens))
            self._forget(target)
            own = 0
        self._save(target, own)
        keep = self._trim(target, own)
        self.counts.slot += keep
        return target, keep

    @staticmethod
    def _target(free: list[Slot], shared: dict[int, int]) -> Slot:
        """The free slot to use: one that loses (next to) nothing by taking the prompt,
        the longest shared prefix first; else the least recently used."""
        lossless = [s for s in free if len(s.cached) - shared[s.seq_id] < MIN_SAVE]
        if lossless:
            return max(lossless, key=lambda s: (shared[s.seq_id], -s.last_used))
        return min(free, key=lambda s: s.last_used)

    # -- operations on sequences -------------------------------------------------------------

    def _save(self, slot: Slot, keep: int) -> None:
        """Keep ``slot``'s sequence in the host cache before its cells from ``keep`` on
        are overwritten (if that loses enough to be worth it)."""
        if (self.host is None or not worth_copying(len(slot.cached), len(slot.cached) - keep,
                                                    MIN_SAVE, self._copies_per_eval)
                or self.host.covers(slot.cached)):
            return
        if slot.seq_id in self._copy_sources:  # its buffer is copied at the next decode:
            return  # the copy has the same cells, and the copy's slot will be saved
        saved = save_sequence(self._rt.lib, self._rt.context.ctx, slot.seq_id)
        if saved is not None and self.host.store(slot.cached, *saved):
            self.counts.saved_sequences += 1

    def _copy(self, source: Slot, target: Slot) -> None:
        memory = self._rt.context.memory
        self._rt.lib.llama_memory_seq_rm(memory, target.seq_id, -1, -1)
        self._rt.lib.llama_memory_seq_cp(memory, source.seq_id, target.seq_id, -1, -1)
        self._copy_sources.add(source.seq_id)
        target.cached = list(source.cached)

    def _trim(self, slot: Slot, keep: int) -> int:
        """Drop ``slot``'s cells from ``keep`` on; returns what it kept."""
        if keep < len(slot.cached) and not self._rt.lib.llama_memory_seq_rm(
                self._rt.context.memory, slot.seq_id, keep, -1):
            self._forget(slot)  # this memory cannot drop a tail (recurrent or SWA cells)
            return 0
        del slot.cached[keep:]
        return keep

    def _forget(self, slot: Slot) -> None:
        self._rt.lib.llama_memory_seq_rm(self._rt.context.memory, slot.seq_id, -1, -1)
        slot.cached = []

    def clear(self) -> None:
        if self.host is not None:
            self.host.clear()
