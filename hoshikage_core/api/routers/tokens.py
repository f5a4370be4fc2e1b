"""``POST /tokenize`` and ``POST /detokenize`` (llama.cpp server's shapes, plus ``model``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ...errors import InvalidRequestError
from ...plugins import Backend
from ..deps import HoshikageDep, require_api_key
from ..schema_docs import ERROR_RESPONSES

router = APIRouter(tags=["extras"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    model: str = Field(min_length=1)
    content: str
    add_special: bool = True
    with_pieces: bool = False


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    model: str = Field(min_length=1)
    tokens: list[int]


def _require(hoshikage: Any, model_name: str, hook: str, what: str) -> str:
    model = hoshikage.models.get(model_name)
    backend = hoshikage.plugins.backend(model.config.backend)
    if backend is not None and not backend.supports(hook):
        raise InvalidRequestError(f"Model '{model.name}' cannot {what}: its backend "
                                  f"'{model.config.backend}' does not support it.",
                                  param="model")
    return str(model.name)


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, hoshikage: HoshikageDep) -> dict[str, Any]:
    """The model's token ids for ``content`` (loads the model if needed)."""
    name = _require(hoshikage, body.model, "hoshikage_tokenize", "tokenize")

    def work(backend: Backend, handle: Any) -> dict[str, Any]:
        tokens = backend.tokenize(handle, body.content, body.add_special)
        if not body.with_pieces:
            return {"tokens": tokens}
        return {"tokens": [{"id": t, "piece": backend.detokenize(handle, [t])} for t in tokens]}

    return await hoshikage.models.use(name, work)


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, hoshikage: HoshikageDep) -> dict[str, Any]:
    """The text of ``tokens``."""
    name = _require(hoshikage, body.model, "hoshikage_detokenize", "detokenize")

    def work(backend: Backend, handle: Any) -> dict[str, Any]:
        try:
            return {"content": backend.detokenize(handle, body.tokens)}
        except ValueError as exc:  # the hook's way of saying the ids are bad
            raise InvalidRequestError(str(exc), param="tokens") from exc

    return await hoshikage.models.use(name, work)
