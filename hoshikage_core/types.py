"""The seam between the HTTP layer and backends: requests in, chunks out.

These types are HTTP-free. Backends receive a :class:`ModelSpec` to load and a
:class:`GenerationRequest` to serve, and yield :class:`Chunk` objects. The last
chunk of every generation carries ``finish_reason`` and ``usage``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ChatMessage",
    "Chunk",
    "FinishReason",
    "GenerationRequest",
    "ModelSpec",
    "Usage",
]

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class ModelSpec:
    """What a backend needs to load one configured model.

    ``options`` holds the model's ``[models.NAME.options]`` table exactly as
    written in the config; the backend validates it (see
    ``hoshikage_validate_options``).
    """

    name: str
    path: Path | None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn. ``content`` is plain text."""

    role: str
    content: str
    name: str | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One generation, as a backend sees it.

    Exactly one of ``messages`` (chat: the backend applies the model's chat
    template) and ``prompt`` (completion: the raw text) is set. Sampling fields
    left as ``None`` mean "the backend's default".
    """

    model: str
    messages: Sequence[ChatMessage] | None = None
    prompt: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("GenerationRequest needs exactly one of messages and prompt")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None


@dataclass(frozen=True)
class Usage:
    """Exact token counts of one generation."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Chunk:
    """A piece of generated text.

    Intermediate chunks carry ``text`` only. The final chunk carries
    ``finish_reason`` and ``usage`` (and may carry the last ``text`` too).
    """

    text: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None

    @property
    def is_final(self) -> bool:
        return self.finish_reason is not None
