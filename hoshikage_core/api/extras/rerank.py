"""``POST /v1/rerank`` (and ``/rerank``): documents ordered by relevance to a query,
in the Jina / Cohere shape llama-server also answers, for models that can rank."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ..deps import HoshikageDep, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..schema_docs import ERROR_RESPONSES
from ..wire import KeepAlive

router = APIRouter(tags=["extras"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


class TextDocument(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    text: str


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    model: str = Field(min_length=1)
    query: str
    documents: list[str | TextDocument] = Field(min_length=1)
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = False
    keep_alive: KeepAlive = None

    def texts(self) -> list[str]:
        return [d if isinstance(d, str) else d.text for d in self.documents]


@router.post("/v1/rerank")
@router.post("/rerank", include_in_schema=False)
async def rerank(body: RerankRequest, http_request: Request,
                 hoshikage: HoshikageDep) -> dict[str, Any]:
    """Each document's relevance to ``query``, the most relevant first (``top_n`` of
    them); a 400 for a model that is not a reranker."""
    log_unknown_fields(body, "rerank")
    name = hoshikage.canonical_name(body.model)
    http_request.state.hoshikage_model = name
    texts = body.texts()
    relevance = await until_disconnected(
        http_request, hoshikage.rerank(name, body.query, texts, keep_alive=body.keep_alive))
    order = sorted(range(len(texts)), key=lambda i: relevance.scores[i], reverse=True)
    results = []
    for i in order[:body.top_n]:
        result: dict[str, Any] = {"index": i, "relevance_score": relevance.scores[i]}
        if body.return_documents:
            result["document"] = {"text": texts[i]}
        results.append(result)
    tokens = relevance.prompt_tokens
    return {"object": "list", "model": name, "results": results,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
