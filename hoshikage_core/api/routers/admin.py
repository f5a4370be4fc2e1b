"""Operations on models: status, load, unload (``/admin/models``).

Status never loads a model or resets an idle timer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ..deps import HoshikageDep, require_api_key
from ..schema_docs import ERROR_RESPONSES

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


@router.get("/models")
async def models_status(hoshikage: HoshikageDep) -> dict[str, Any]:
    """Every model: state, memory, last use, expiry, running and queued requests."""
    return {"data": [info.to_dict() for info in hoshikage.list_models()]}


@router.get("/models/{model_id}")
async def model_status(model_id: str,
                       hoshikage: HoshikageDep) -> dict[str, Any]:
    model = hoshikage.models.get(model_id)
    return next(i.to_dict() for i in hoshikage.list_models() if i.id == model.name)


@router.post("/models/{model_id}/load")
async def load_model(model_id: str,
                     hoshikage: HoshikageDep) -> dict[str, Any]:
    """Load now (waits for room like a request would); returns the model's status."""
    return (await hoshikage.models.load(model_id)).to_dict()


@router.post("/models/{model_id}/unload")
async def unload_model(model_id: str,
                       hoshikage: HoshikageDep) -> dict[str, Any]:
    """Unload once running requests have finished; returns the model's status."""
    return (await hoshikage.models.unload(model_id)).to_dict()
