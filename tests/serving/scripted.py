"""A backend that renders chats with a given template and answers with given text,
piece by piece: the chat service's output formats tested without a model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoshikage_core import Chunk, GenerationRequest, Hoshikage, Usage, hookimpl
from hoshikage_core.kit.fields import ALL_FIELDS


@dataclass(eq=False)
class Scripted:
    """Answers every request with the next of ``answers`` (a list of pieces), one piece
    a chunk (each counted as one token), and records the requests."""

    template: str
    answers: list[list[str]] = field(default_factory=list)
    tool_use: str | None = None  # a named variant, as a GGUF's tokenizer.chat_template.tool_use
    requests: list[GenerationRequest] = field(default_factory=list)

    @hookimpl
    def hoshikage_load(self, model: Any) -> str:
        return "handle"

    @hookimpl
    def hoshikage_chat_template(self, handle: str) -> Any:
        from hoshikage_core.kit.templates import ChatTemplate

        variants = {"tool_use": ChatTemplate(self.tool_use)} if self.tool_use else {}
        return ChatTemplate(self.template, bos_token="<s>", eos_token="</s>",
                            variants=variants)

    @hookimpl
    def hoshikage_supported_fields(self) -> frozenset[str]:
        return ALL_FIELDS

    @hookimpl
    def hoshikage_generate(self, handle: str, request: GenerationRequest) -> Iterator[Chunk]:
        self.requests.append(request)
        pieces = self.answers.pop(0) if self.answers else ["ok"]
        limit = request.max_tokens if request.max_tokens is not None else len(pieces)
        for piece in pieces[:limit]:
            yield Chunk(text=piece, tokens=1)
        reason = "length" if limit < len(pieces) else "stop"
        yield Chunk(finish_reason=reason, usage=Usage(7, min(limit, len(pieces))))

    @hookimpl
    def hoshikage_unload(self, handle: str) -> None:
        pass


def scripted_hoshikage(tmp_path: Path, backend: Scripted, **model: Any) -> Hoshikage:
    path = tmp_path / "m.bin"
    path.write_bytes(b"x")
    return Hoshikage({"models": {"m": {"backend": "scripted", "path": str(path), **model}}},
                     plugins={"scripted": backend}, load_entry_points=False)
