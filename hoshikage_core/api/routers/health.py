"""``GET /health``: liveness. Never loads a model, never needs a key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ... import __version__
from ...lifecycle import ModelState
from ..deps import HoshikageDep

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(hoshikage: HoshikageDep) -> dict[str, Any]:
    infos = hoshikage.list_models()
    return {
        "status": "ok",
        "version": __version__,
        "models": {
            "configured": len(infos),
            "loaded": sum(1 for i in infos if i.state is ModelState.READY),
        },
    }
