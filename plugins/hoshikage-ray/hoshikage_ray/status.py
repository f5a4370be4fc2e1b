"""A model's status on the cluster, from its replicas' reports on the board."""

from __future__ import annotations

from typing import Any, Protocol

from hoshikage_core.lifecycle import ModelInfo, ModelState, ReplicaInfo

__all__ = ["model_info"]

_HOLDING = ("ready", "loading", "unloading")


class _Model(Protocol):
    name: str
    in_flight: int
    last_used: float | None

    @property
    def config(self) -> Any: ...


def model_info(model: _Model, reports: list[dict[str, Any]],
               deploy_error: str | None = None) -> ModelInfo:
    """``model`` over all its replicas: ready where any replica has it ready; its
    requests running and waiting, in the replicas and at the router."""
    replicas: list[ReplicaInfo] = []
    mine: list[dict[str, Any]] = []
    for report in sorted(reports, key=lambda r: r["replica"]):
        held = tuple(m["id"] for m in report["models"] if m["state"] in _HOLDING)
        info = next((m for m in report["models"] if m["id"] == model.name), None)
        if info is None:
            continue
        mine.append(info)
        replicas.append(ReplicaInfo(
            id=report["replica"], state=info["state"], node_id=report["node_id"],
            pid=report["pid"], running=info["running"], queued=info["queued"], models=held))
    states = {m["state"] for m in mine}
    running = sum(m["running"] for m in mine)
    queued = sum(m["queued"] for m in mine)
    queued += max(0, model.in_flight - running - queued)  # waiting for a replica
    error = deploy_error or next((m["error"] for m in mine if m["error"]), None)
    if "ready" in states:
        state = ModelState.READY
    elif "loading" in states or (queued and not deploy_error):
        state = ModelState.LOADING
    elif "unloading" in states:
        state = ModelState.UNLOADING
    elif deploy_error or (states == {"failed"}):
        state = ModelState.FAILED
    else:
        state = ModelState.UNLOADED
    memory = [m["memory_bytes"] for m in mine if m["memory_bytes"]]
    used = [t for t in (model.last_used, *(m["last_used"] for m in mine)) if t]
    loads = [m["load_seconds"] for m in mine if m["load_seconds"]]
    progress = [m["load_progress"] for m in mine if m["load_progress"] is not None]
    expiring = [m["expires_at"] for m in mine if m["expires_at"] is not None]
    # unloaded everywhere when the last replica's idle timer ends
    expires = max(expiring) if expiring and len(expiring) == len(mine) else None
    return ModelInfo(
        id=model.name, backend=model.config.backend, aliases=tuple(model.config.aliases),
        state=state, path=str(model.config.path) if model.config.path else None,
        error=error, load_seconds=max(loads) if loads else None,
        memory_bytes=sum(memory) if memory else None, last_used=max(used) if used else None,
        expires_at=expires, running=running, queued=queued,
        load_progress=min(progress) if progress else None, replicas=tuple(replicas),
        pinned=bool(model.config.pinned))
