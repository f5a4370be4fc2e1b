"""Model names as Ollama writes them: ``name:tag``, where Hoshikage's names have no tag."""

from __future__ import annotations

from ...errors import ModelNotFoundError
from ...hoshikage import Hoshikage

__all__ = ["LATEST", "resolve", "tagged"]

LATEST = ":latest"


def tagged(model_id: str) -> str:
    """How Ollama lists a model: ``smollm2`` as ``smollm2:latest`` (a name that has a tag
    already stays as it is)."""
    return model_id if ":" in model_id else model_id + LATEST


def resolve(hoshikage: Hoshikage, name: str) -> str:
    """The configured model called ``name``, an alias, or either with ``:latest`` added
    or taken off (a discovered Ollama model is named ``qwen2.5:latest``);
    :class:`ModelNotFoundError` naming ``name`` if none."""
    try:
        return hoshikage.canonical_name(name)
    except ModelNotFoundError:
        other = name.removesuffix(LATEST) if name.endswith(LATEST) else (
            name + LATEST if ":" not in name else "")
        if other:
            try:
                return hoshikage.canonical_name(other)
            except ModelNotFoundError:
                pass
        raise
