"""What a config reload did, and which of its changes wait for a restart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config.schema import HoshikageConfig
from ..discovery import DiscoveryReport
from ..lifecycle.reload import ModelChanges

__all__ = ["RESTART_SECTIONS", "ReloadReport", "needs_restart"]

RESTART_SECTIONS = ("server", "plugins", "cluster")
"""Tables a reload does not apply: the listening sockets, keys and page, the plugins
loaded, and the engine. A change to them is reported and kept for the next start."""


def needs_restart(old: HoshikageConfig, new: HoshikageConfig) -> tuple[str, ...]:
    """The tables of :data:`RESTART_SECTIONS` that differ between ``old`` and ``new``."""
    return tuple(s for s in RESTART_SECTIONS if getattr(old, s) != getattr(new, s))


@dataclass(frozen=True)
class ReloadReport:
    """The result of :meth:`~hoshikage_core.Hoshikage.reload`."""

    models: ModelChanges
    restart_needed: tuple[str, ...] = ()
    """Tables that changed but apply only after a restart (e.g. ``server``)."""
    discovery: DiscoveryReport = field(default_factory=DiscoveryReport)

    def to_dict(self) -> dict[str, Any]:
        return {**self.models.to_dict(), "restart_needed": list(self.restart_needed),
                "discovery": self.discovery.to_dict()}

    def summary(self) -> str:
        """One line for the log: ``reloaded config: 1 added (qwen), 2 unchanged``."""
        parts = [f"{len(names)} {what}" + (f" ({', '.join(names)})" if what != "unchanged"
                                           else "")
                 for what, names in self.models.to_dict().items() if names]
        if self.restart_needed:
            parts.append("needs a restart for [" + "], [".join(self.restart_needed) + "]")
        return "reloaded config: " + (", ".join(parts) or "no models")
