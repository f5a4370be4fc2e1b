"""``GET /metrics``: Prometheus exposition. Never loads a model or resets a timer."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..deps import HoshikageDep, require_api_key
from ..schema_docs import error_responses

router = APIRouter(tags=["operations"], dependencies=[Depends(require_api_key)],
                   responses=error_responses(401))


@router.get("/metrics", response_class=Response)
async def metrics(hoshikage: HoshikageDep) -> Response:
    return Response(hoshikage.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
