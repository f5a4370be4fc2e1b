"""The responses a server keeps for ``previous_response_id`` and ``GET
/v1/responses/{id}``: in memory, at most ``capacity`` of them, the least recently
used dropped first. Nothing survives a restart."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...types import ChatMessage

__all__ = ["ResponseStore", "StoredResponse"]


@dataclass(frozen=True)
class StoredResponse:
    body: dict[str, Any]
    """The response as it was sent."""
    history: Sequence[ChatMessage]
    """Its conversation (without instructions) and its output, as chat turns."""


class ResponseStore:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[str, StoredResponse] = OrderedDict()

    def put(self, stored: StoredResponse) -> None:
        if self.capacity <= 0:
            return
        key = stored.body["id"]
        self._kept[key] = stored
        self._kept.move_to_end(key)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    def get(self, response_id: str) -> StoredResponse | None:
        stored = self._kept.get(response_id)
        if stored is not None:
            self._kept.move_to_end(response_id)
        return stored

    def delete(self, response_id: str) -> bool:
        return self._kept.pop(response_id, None) is not None
