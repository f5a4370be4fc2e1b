"""The ``ray`` engine plugin (``[cluster] engine = "ray"``)."""

from __future__ import annotations

from hoshikage_core import hookimpl
from hoshikage_core.engines import EngineContext, ModelEngine

from .engine import ClusterEngine


@hookimpl
def hoshikage_engine(context: EngineContext) -> ModelEngine:
    return ClusterEngine(context)
