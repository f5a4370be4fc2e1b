"""``GET /health`` and ``HEAD /``: liveness. Never loads a model, never needs a key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..deps import HoshikageDep
from ..fast_start import health_body

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(hoshikage: HoshikageDep) -> dict[str, Any]:
    return health_body(hoshikage)


@router.head("/", include_in_schema=False)
async def reachable() -> Response:
    """``HEAD /``: what clients such as Claude Code send to see that a server is up."""
    return Response(status_code=200)
