"""``POST /tokenize`` and ``POST /detokenize`` (llama.cpp server's shapes, plus ``model``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

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


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, hoshikage: HoshikageDep) -> dict[str, Any]:
    """The model's token ids for ``content`` (loads the model if needed)."""
    tokens = await hoshikage.tokenize(body.model, body.content, add_special=body.add_special)
    if not body.with_pieces:
        return {"tokens": tokens}
    pieces = await hoshikage.token_pieces(body.model, tokens)
    return {"tokens": [{"id": t, "piece": p} for t, p in zip(tokens, pieces)]}


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, hoshikage: HoshikageDep) -> dict[str, Any]:
    """The text of ``tokens``."""
    return {"content": await hoshikage.detokenize(body.model, body.tokens)}
