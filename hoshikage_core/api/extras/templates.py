"""``POST /apply-template`` (llama-server's name and shape): the prompt text a chat
request renders to with the model's own template, for debugging templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field

from ..deps import HoshikageDep, log_unknown_fields, require_api_key
from ..openai.protocol import ChatCompletionRequest
from ..schema_docs import ERROR_RESPONSES

router = APIRouter(tags=["extras"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


class ApplyTemplateRequest(ChatCompletionRequest):
    """A chat completion request; ``model`` may be left out (the ``default`` alias)."""

    model: str = Field("default", min_length=1)


@router.post("/apply-template")
async def apply_template(body: ApplyTemplateRequest, hoshikage: HoshikageDep) -> dict[str, Any]:
    """``{"prompt": ...}``: what the model would be given for this chat (tools and
    ``chat_template_kwargs`` included); nothing is generated."""
    log_unknown_fields(body, "apply-template")
    return {"prompt": await hoshikage.render_chat(body.to_service())}
