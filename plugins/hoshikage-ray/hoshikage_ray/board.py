"""The replica board: a small Ray actor where every replica reports what it holds
(its node, pid, models, running and queued requests) and picks up what the front end
asks of it (unload a model). Ray Serve routes requests to *some* replica; this is how
the front end sees and reaches *every* one."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["BOARD_NAMESPACE", "Board", "board_actor"]

BOARD_NAMESPACE = "hoshikage"


class Board:
    """The board's state (a plain class, so it is testable without Ray)."""

    def __init__(self, stale_after: float = 5.0) -> None:
        self.stale_after = stale_after
        self.reports: dict[str, tuple[float, dict[str, Any]]] = {}
        self.unloads: dict[str, int] = {}  # model -> how many unloads were asked for

    def report(self, replica: str, report: dict[str, Any]) -> dict[str, int]:
        """Store ``report`` of ``replica``; answer the unload counts per model (a replica
        unloads a model whose count went up since it last looked)."""
        self.reports[replica] = (time.monotonic(), report)
        return dict(self.unloads)

    def leave(self, replica: str) -> None:
        self.reports.pop(replica, None)

    def unload(self, model: str) -> int:
        self.unloads[model] = self.unloads.get(model, 0) + 1
        return self.unloads[model]

    def snapshot(self) -> list[dict[str, Any]]:
        """Every replica heard from lately (a dead one stops reporting and drops out)."""
        now = time.monotonic()
        for replica, (at, _) in list(self.reports.items()):
            if now - at > self.stale_after:
                del self.reports[replica]
        return [report for _, report in self.reports.values()]


def board_actor(name: str, *, detached: bool = False) -> Any:
    """The named board actor, created if it does not exist yet."""
    import ray

    actor_class = ray.remote(num_cpus=0, max_restarts=-1)(Board)
    options: dict[str, Any] = {"name": name, "namespace": BOARD_NAMESPACE,
                               "get_if_exists": True}
    if detached:
        options["lifetime"] = "detached"
    return actor_class.options(**options).remote()
