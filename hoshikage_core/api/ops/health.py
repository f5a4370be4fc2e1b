"""``GET /health``: liveness. Never loads a model, never needs a key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import HoshikageDep
from ..fast_start import health_body

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(hoshikage: HoshikageDep) -> dict[str, Any]:
    return health_body(hoshikage)

