"""Hoshikage on Ray Serve: each model's replicas on a Ray cluster, one API in front.

``[cluster] engine = "ray"`` in a Hoshikage config, then ``hoshikage run`` as usual;
or :func:`build_app` for Ray's own tools (``serve run``, ``serve deploy``, KubeRay).
"""

from .app import build_app

__all__ = ["build_app"]
