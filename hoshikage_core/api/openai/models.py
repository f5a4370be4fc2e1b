"""``GET /v1/models``: the configured models, loaded or not."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ...hoshikage import ModelInfo
from ..deps import HoshikageDep, require_api_key
from ..schema_docs import error_responses

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)],
                   responses=error_responses(401, 404))


def model_object(info: ModelInfo, created: int) -> dict[str, Any]:
    return {
        "id": info.id,
        "object": "model",
        "created": created,
        "owned_by": "hoshikage",
        # extensions, ignored by OpenAI clients
        "aliases": list(info.aliases),
        "backend": info.backend,
        "state": info.state.value,
        "origin": info.origin.to_dict(),
    }


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, hoshikage: HoshikageDep) -> dict[str, Any]:
    """One model by name or alias (404 ``model_not_found`` otherwise)."""
    return model_object(hoshikage.get(model_id), hoshikage.started_at)


@router.get("/v1/models")
async def list_models(hoshikage: HoshikageDep) -> dict[str, Any]:
    created = hoshikage.started_at
    return {"object": "list", "data": [model_object(i, created) for i in hoshikage.list_models()]}
