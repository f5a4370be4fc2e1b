"""Joining the Ray cluster ``[cluster] address`` names, and what this process owns."""

from __future__ import annotations

import logging
import os

__all__ = ["connect", "in_serve_replica"]

log = logging.getLogger(__name__)

NAMESPACE = "hoshikage"


def connect(address: str) -> str | None:
    """Join (or, for ``"local"``, start) the cluster. Returns ``"started"`` (a cluster of
    this process's own, to shut down at the end), ``"joined"`` (to disconnect from at
    the end), or None: the process was connected already (embedding code, tests, a
    Serve replica) and is left as it is."""
    # Ray's crash handler takes SIGTERM from `hoshikage run` (which stops gracefully on
    # it, removing what it deployed) and aborts the process once that is done
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    import ray

    if ray.is_initialized():
        return None
    options = {"namespace": NAMESPACE, "log_to_driver": False, "configure_logging": False}
    if address == "local":
        ray.init(include_dashboard=False, **options)  # type: ignore[arg-type]
        log.info("started a Ray cluster in this process")
        return "started"
    ray.init(address=address, **options)  # type: ignore[arg-type]
    log.info("joined the Ray cluster at %s", address)
    return "joined"


def in_serve_replica() -> str | None:
    """The Serve application this code runs in (``build_app`` deployed with Ray's own
    tools), or None when it runs in ``hoshikage run`` or embedding code."""
    from ray import serve
    from ray.serve.exceptions import RayServeException

    try:
        return serve.get_replica_context().app_name
    except RayServeException:
        return None
