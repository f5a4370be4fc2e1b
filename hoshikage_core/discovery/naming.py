"""How a GGUF file's name becomes a model's name (documented in docs/discovery.md).

1. The file name without ``.gguf`` (any case).
2. Without a split suffix ``-00001-of-00003``: the parts of a split model are one model.
3. Every run of characters other than letters, digits, ``.``, ``_`` and ``-``
   becomes one ``-``; letter case is kept.

``Qwen2.5-7B-Instruct-Q4_K_M-00001-of-00002.gguf`` → ``Qwen2.5-7B-Instruct-Q4_K_M``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SplitPart", "is_gguf_name", "is_projector", "model_name", "projector_key", "split_part"]

_SPLIT = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SplitPart:
    """``base-00002-of-00003.gguf``: part 2 of 3 of the model ``base``."""

    base: str
    index: int
    total: int


def is_gguf_name(filename: str) -> bool:
    return filename.lower().endswith(".gguf") and not filename.startswith(".")


def _stem(filename: str) -> str:
    return filename[:-len(".gguf")] if filename.lower().endswith(".gguf") else filename


def split_part(filename: str) -> SplitPart | None:
    """The part a split model's file is, or None for a whole model."""
    match = _SPLIT.match(_stem(filename))
    if match is None or int(match["total"]) < 1:
        return None
    return SplitPart(match["base"], int(match["index"]), int(match["total"]))


def is_projector(filename: str) -> bool:
    """A multimodal projector (``mmproj-*.gguf``), not a model of its own."""
    return _stem(filename).lower().startswith("mmproj")


def model_name(filename: str) -> str:
    """The model name a GGUF file is served under (the rule above)."""
    stem = _stem(filename)
    part = split_part(filename)
    if part is not None:
        stem = part.base
    return _UNSAFE.sub("-", stem).strip("-") or "model"


def projector_key(filename: str) -> str:
    """What a projector's name says of its model: ``mmproj-Qwen2-VL-f16`` → ``qwen2-vl-f16``."""
    return re.sub(r"^mmproj[-_.]?", "", _stem(filename).lower())
