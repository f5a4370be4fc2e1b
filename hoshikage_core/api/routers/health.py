"""``GET /health``: liveness. Never loads a model, never needs a key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import HoshikageDep
from ..fast_start import health_body
from ..schema_docs import ERROR_RESPONSES

router = APIRouter(tags=["operations"],
                   responses=ERROR_RESPONSES)


@router.get("/health")
async def health(hoshikage: HoshikageDep) -> dict[str, Any]:
    return health_body(hoshikage)
