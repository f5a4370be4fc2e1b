"""Joining the Ray cluster ``[cluster] address`` names, and what this process owns."""

from __future__ import annotations

import logging

__all__ = ["connect", "in_serve_replica"]

log = logging.getLogger(__name__)

NAMESPACE = "hoshikage"


def connect(address: str) -> bool:
    """Join (or, for ``"local"``, start) the cluster; returns whether this call started
    Ray in this process (so closing should shut it down). A process already connected
    (embedding code, tests, a Serve replica) is left as it is."""
    import ray

    if ray.is_initialized():
        return False
    options = {"namespace": NAMESPACE, "log_to_driver": False, "configure_logging": False}
    if address == "local":
        ray.init(include_dashboard=False, **options)  # type: ignore[arg-type]
    else:
        ray.init(address=address, **options)  # type: ignore[arg-type]
    log.info("joined the Ray cluster at %s", address)
    return True


def in_serve_replica() -> str | None:
    """The Serve application this code runs in (``build_app`` deployed with Ray's own
    tools), or None when it runs in ``hoshikage run`` or embedding code."""
    from ray import serve
    from ray.serve.exceptions import RayServeException

    try:
        return serve.get_replica_context().app_name
    except RayServeException:
        return None
