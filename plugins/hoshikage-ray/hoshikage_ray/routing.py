"""Routing a prompt to the replica whose KV cache most likely holds its beginning.

Ray's default router takes the less busy of two random replicas, so a conversation's
next turn lands on another replica half the time and its history is evaluated again.
This router, which runs in the front end beside Ray's own, remembers the last prompts
each replica was sent; a prompt that begins with most of one of them goes to that
replica (its slot cells or its host prompt cache have it), unless that replica is
busier than the least busy one by more than a batch. Otherwise it is Ray's choice.
Cheap to know: string prefixes in this process, no calls to the replicas.
"""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from typing import Any

from ray.serve._private.request_router.pow_2_router import PowerOfTwoChoicesRequestRouter

__all__ = ["PrefixAffinityRouter", "prompt_text"]

REMEMBERED = 64  # prompts remembered per replica
KEPT_CHARS = 16_384  # of each prompt
MIN_SHARE = 0.5  # of the new prompt that must match


def prompt_text(pending_request: Any) -> str | None:
    """The prompt of a ``generate`` call (rendered chat or raw text), if it is one."""
    if pending_request is None or not pending_request.args:
        return None
    request = pending_request.args[0]
    text = getattr(request, "chat_prompt", None) or getattr(request, "prompt", None)
    return text[:KEPT_CHARS] if isinstance(text, str) and text else None


class PrefixAffinityRouter(PowerOfTwoChoicesRequestRouter):  # type: ignore[misc]
    """Ray's power-of-two choice, preceded by the replica with the longest shared prefix."""

    def initialize_state(self, **kwargs: Any) -> None:
        self.slack = int(kwargs.get("slack", 1))
        self.recent: OrderedDict[Any, deque[str]] = OrderedDict()

    async def choose_replicas(self, candidate_replicas: list[Any],
                              pending_request: Any = None) -> list[list[Any]]:
        ranked: list[list[Any]] = await super().choose_replicas(candidate_replicas,
                                                                pending_request)
        text = prompt_text(pending_request)
        home = self._home(text, candidate_replicas) if text else None
        return [[home], *ranked] if home is not None else ranked

    def _home(self, text: str, candidates: list[Any]) -> Any:
        best, best_length = None, int(len(text) * MIN_SHARE)
        for replica in candidates:
            for seen in self.recent.get(replica.replica_id, ()):
                length = len(os.path.commonprefix([text, seen]))
                if length > best_length:
                    best, best_length = replica, length
        if best is None:
            return None
        cache = getattr(self, "_replica_queue_len_cache", None)
        if cache is not None:
            lengths = [cache.get(r.replica_id) or 0 for r in candidates]
            if (cache.get(best.replica_id) or 0) > min(lengths) + self.slack * max(
                    1, getattr(best, "max_ongoing_requests", 1) // 2):
                return None  # too busy: the cache is worth less than the wait
        return best

    def on_request_routed(self, pending_request: Any, replica_id: Any, result: Any) -> None:
        text = prompt_text(pending_request)
        if text is None:
            return
        prompts = self.recent.setdefault(replica_id, deque(maxlen=REMEMBERED))
        prompts.append(text)
        self.recent.move_to_end(replica_id)

    def on_replica_actor_died(self, replica_id: Any) -> None:
        super().on_replica_actor_died(replica_id)
        self.recent.pop(replica_id, None)
