"""Where a model came from, and what discovery found but does not serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["DiscoveryReport", "Found", "ModelOrigin", "NotServed", "OriginKind"]

OriginKind = Literal["config", "dir", "huggingface", "ollama"]


@dataclass(frozen=True)
class ModelOrigin:
    """Where one served model came from: a ``[models.*]`` table or a discovered file."""

    kind: OriginKind
    root: str | None = None
    """The folder it was found in (a ``[discovery] dirs`` entry, the hub cache, the
    Ollama store); None for configured models."""
    parts: int = 1
    """Files of a split (``-00001-of-0000N``) model."""
    mmproj: str | None = None
    """The multimodal projector (``mmproj-*.gguf``) paired with it, if any."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "root": self.root, "parts": self.parts,
                "mmproj": self.mmproj}


CONFIGURED = ModelOrigin("config")


@dataclass(frozen=True)
class Found:
    """One model file a scan found, before names are settled."""

    name: str
    path: Path
    origin: ModelOrigin
    qualifier: str
    """What tells it apart when another found file has the same name (its folder's
    name, a hub repository, ``ollama``): the name becomes ``qualifier/name``."""


@dataclass(frozen=True)
class NotServed:
    """A file discovery found and serves under no name, and why."""

    path: str
    reason: str
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class DiscoveryReport:
    """What a scan found beyond the models it serves."""

    renamed: tuple[tuple[str, str, str], ...] = ()
    """(name, qualified name, path): files that share a name, each served under its
    qualified name instead."""
    not_served: tuple[NotServed, ...] = field(default_factory=tuple)
    unused_overrides: tuple[str, ...] = ()
    """``[discovery.models.NAME]`` tables that match no discovered model (now)."""

    def to_dict(self) -> dict[str, Any]:
        return {"renamed": [{"name": n, "served_as": q, "path": p}
                            for n, q, p in self.renamed],
                "not_served": [n.to_dict() for n in self.not_served],
                "unused_overrides": list(self.unused_overrides),
                "notes": self.lines()}

    def lines(self) -> list[str]:
        """One sentence per finding, for the log and ``hoshikage ps``."""
        out = [f"{path} is served as '{qualified}': another discovered file is also "
               f"named '{name}'" for name, qualified, path in self.renamed]
        out += [f"{n.path} is not served: {n.reason}" for n in self.not_served]
        out += [f"[discovery.models.{name}] matches no discovered model"
                for name in self.unused_overrides]
        return out
