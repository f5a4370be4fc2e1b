"""What the services need of Hoshikage: an interface, so they do not import it
(Hoshikage builds the services and hands itself in)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, TypeVar

from ..config.schema import EffectiveModelSettings
from ..plugins.capabilities import Capabilities
from ..types import Chunk, GenerationRequest

__all__ = ["Engine"]

T = TypeVar("T")


class Engine(Protocol):
    def canonical_name(self, model: str) -> str:
        """The model's configured name for a name or alias (404 if none)."""

    def settings(self, model: str) -> EffectiveModelSettings:
        """The model's effective limits (``max_n``, ``max_tokens_limit``, ...)."""

    def capabilities(self, model: str) -> Capabilities:
        """What the model's backend can do (the request fields it honours)."""

    def generate(self, request: GenerationRequest, *,
                 keep_alive: float | None = None) -> AsyncIterator[Chunk]:
        """One generation's chunks; the last carries finish_reason and usage."""

    async def detokenize(self, model: str, tokens: Sequence[int]) -> str:
        """The text of ``tokens`` (400 if the backend cannot)."""

    async def chat_template(self, model: str) -> Any:
        """The model's ``ChatTemplate`` if chats are rendered here, else None (the
        backend renders them)."""

    async def in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread (rendering templates blocks)."""
