"""Drafts from a second, smaller model (``draft_model``) for speculative decoding.

The draft model has its own llama.cpp context with one sequence per slot of the
target. Before each draft, a slot's sequence is brought up to what the target has
written (the prompt, the first time; then the tokens accepted since), and the
draft model then writes ``k`` tokens greedily, all drafting slots in one batch
per token. Its proposals are checked by the target exactly as prompt-lookup
drafts are (:func:`speculation.verify`), so the output does not change.
"""

from __future__ import annotations

from .prompt_cache import common_prefix
from .runtime import Runtime
from .speculation import DecodeCost

__all__ = ["ModelDrafter", "check_same_vocabulary"]


def check_same_vocabulary(target: Runtime, draft: Runtime, names: tuple[str, str]) -> None:
    """A draft model must spell every token as the target does; ValueError if not."""
    lib = target.lib
    problems = []
    if target.n_vocab != draft.n_vocab:
        problems.append(f"{draft.n_vocab} tokens against {target.n_vocab}")
    for what, fn in (("BOS", lib.llama_vocab_bos), ("EOS", lib.llama_vocab_eos)):
        if fn(target.vocab) != fn(draft.vocab):
            problems.append(f"a different {what} token")
    if not problems:
        step = max(1, target.n_vocab // 512)  # a sample across the vocabulary
        for token in range(0, target.n_vocab, step):
            if (lib.llama_vocab_get_text(target.vocab, token)
                    != lib.llama_vocab_get_text(draft.vocab, token)):
                problems.append(f"token {token} spelled differently")
                break
    if problems:
        raise ValueError(f"draft_model '{names[1]}' cannot draft for '{names[0]}': its "
                         f"vocabulary differs ({'; '.join(problems)}). A draft model must "
                         "come from the same family (same tokenizer).")


class ModelDrafter:
    """Greedy drafts for several slots at once from the draft model's context."""

    def __init__(self, runtime: Runtime) -> None:
        import numpy as np

        self.rt = runtime
        self.cost = DecodeCost()  # what one draft step (a token for each slot) costs
        self._cached: dict[int, list[int]] = {}  # seq_id -> tokens its cells hold
        self._argmax = np.argmax
        self._as_array = np.ctypeslib.as_array

    def draft(self, requests: list[tuple[int, list[int], int]]) -> dict[int, list[int]]:
        """For each ``(seq_id, written, length)``: ``length`` tokens the draft model
        writes after the tokens ``written`` so far."""
        import time

        lib, rt = self.rt.lib, self.rt
        drafts: dict[int, list[int]] = {seq: [] for seq, _, _ in requests}
        feed: dict[int, list[int]] = {}
        for seq, written, _ in requests:  # bring each sequence up to what was written
            cached = self._cached.setdefault(seq, [])
            keep = min(common_prefix(cached, written), len(written) - 1)
            if keep < len(cached) and not lib.llama_memory_seq_rm(rt.context.memory, seq,
                                                                  keep, -1):
                lib.llama_memory_seq_rm(rt.context.memory, seq, -1, -1)
                keep = 0
            del cached[keep:]
            feed[seq] = written[keep:]
        wanted = {seq: length for seq, _, length in requests}
        while feed:  # histories first, each sequence's first draft as its history is in
            for seq, row in self._decode(feed).items():
                drafts[seq].append(self._greedy(row))
        growing = [seq for seq in drafts if len(drafts[seq]) < wanted[seq]]
        while growing:  # then one token for every drafting slot per decode
            started = time.perf_counter()
            rows = self._decode({seq: [drafts[seq][-1]] for seq in growing})
            self.cost.observe(len(growing), time.perf_counter() - started)
            for seq, row in rows.items():
                drafts[seq].append(self._greedy(row))
            growing = [seq for seq in growing if len(drafts[seq]) < wanted[seq]]
        return drafts

    def _decode(self, feed: dict[int, list[int]]) -> dict[int, int]:
        """Evaluate up to ``n_batch`` of the fed tokens, taking them out of ``feed``;
        the logits row of each sequence whose tokens are now all in."""
        rt, lib = self.rt, self.rt.lib
        batch = rt.batch.batch
        n, rows = 0, {}
        for seq in list(feed):
            tokens = feed[seq]
            take = tokens[:max(0, rt.n_batch - n)]
            cached = self._cached[seq]
            for i, token in enumerate(take):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, len(cached) + i, 1
                batch.seq_id[n][0], batch.logits[n] = seq, False
                n += 1
            cached.extend(take)
            if len(take) == len(tokens):
                batch.logits[n - 1] = True
                rows[seq] = n - 1
                del feed[seq]
            else:
                feed[seq] = tokens[len(take):]
        batch.n_tokens = n
        if lib.llama_decode(rt.context.ctx, batch) != 0:
            raise RuntimeError(f"the draft model's llama_decode failed for {n} tokens")
        return rows

    def _greedy(self, row: int) -> int:
        logits = self.rt.lib.llama_get_logits_ith(self.rt.context.ctx, row)
        return int(self._argmax(self._as_array(logits, shape=(self.rt.n_vocab,))))

    def forget(self, seq: int) -> None:
        self._cached.pop(seq, None)
        self.rt.lib.llama_memory_seq_rm(self.rt.context.memory, seq, -1, -1)

    def close(self) -> None:
        self.rt.close()
