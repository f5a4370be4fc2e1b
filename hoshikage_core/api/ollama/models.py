"""``/api/version``, ``/api/tags``, ``/api/show``, ``/api/ps``: the configured models as
Ollama lists them. None of them loads a model."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import Depends, Request

from ...errors import HoshikageError
from ...hoshikage import Hoshikage, ModelInfo, ModelState
from ..deps import HoshikageDep, log_unknown_fields
from .facts import (
    FactsCache,
    FileFacts,
    TemplateFacts,
    TemplateText,
    configured_template,
    facts_cache,
)
from .names import resolve, tagged
from .protocol import ShowBody
from .reply import rfc3339
from .routing import ollama_router

__all__ = ["OLLAMA_VERSION", "router"]

OLLAMA_VERSION = "0.12.6"
"""The Ollama version ``/api/version`` reports: one whose API (thinking, tool calls,
structured output) clients may rely on, for those that check it before using them."""

FOREVER_NS = 2**63 - 1  # Ollama's "forever" keep_alive: the longest Go duration

router = ollama_router()
FactsDep = Annotated[FactsCache, Depends(facts_cache)]


async def _facts(hoshikage: Hoshikage, cache: FactsCache, info: ModelInfo) -> FileFacts:
    path = hoshikage.config.models[info.id].path
    return await hoshikage.in_worker(cache.file, path, info.id)


def _entry(info: ModelInfo, facts: FileFacts, started: float) -> dict[str, Any]:
    return {"name": tagged(info.id), "model": tagged(info.id),
            "modified_at": rfc3339(facts.modified or started), "size": facts.size,
            "digest": facts.digest, "details": facts.details()}


@router.get("/api/version")
async def version() -> dict[str, str]:
    """The Ollama version whose API this answers (not Hoshikage's own)."""
    return {"version": OLLAMA_VERSION}


@router.get("/api/tags")
async def tags(hoshikage: HoshikageDep, cache: FactsDep) -> dict[str, Any]:
    """Every configured model, loaded or not, as ``NAME:latest`` (aliases not listed)."""
    return {"models": [_entry(info, await _facts(hoshikage, cache, info), hoshikage.started_at)
                       for info in hoshikage.list_models()]}


async def _template(hoshikage: Hoshikage, info: ModelInfo,
                    facts: FileFacts) -> TemplateText | None:
    """The model's template: the one it runs with if it is loaded, else the one its
    options or GGUF name (never a load)."""
    if info.state is ModelState.READY:
        try:  # learned at its load: asking does not load it again
            loaded = await hoshikage.chat_template(info.id)
        except HoshikageError:
            loaded = None
        if loaded is not None:
            return TemplateText.of(loaded)
    return configured_template(hoshikage.config.models[info.id].options, facts)


def _capabilities(hoshikage: Hoshikage, name: str, facts: FileFacts,
                  shown: TemplateFacts | None) -> list[str]:
    capabilities = ["completion"]
    if shown is not None and shown.tools:
        capabilities.append("tools")
    if facts.fill_in_the_middle:
        capabilities.append("insert")
    try:
        if hoshikage.capabilities(name).has("hoshikage_embed"):
            capabilities.append("embedding")
    except HoshikageError:  # its backend cannot run here: nothing more to say
        pass
    if shown is not None and shown.thinking:
        capabilities.append("thinking")
    return capabilities


@router.post("/api/show")
async def show(body: ShowBody, http_request: Request, hoshikage: HoshikageDep,
               cache: FactsDep) -> dict[str, Any]:
    """A model's details, GGUF metadata, chat template and capabilities."""
    log_unknown_fields(body, "api/show")
    name = resolve(hoshikage, body.target())
    http_request.state.hoshikage_model = name
    info = hoshikage.get(name)
    facts = await _facts(hoshikage, cache, info)
    text = await _template(hoshikage, info, facts)
    shown = await hoshikage.in_worker(cache.template, text) if text is not None else None
    return {"modelfile": "", "parameters": "", "template": text.source if text else "",
            "details": facts.details(), "model_info": facts.metadata,
            "capabilities": _capabilities(hoshikage, name, facts, shown),
            "modified_at": rfc3339(facts.modified or hoshikage.started_at)}


def _expires(hoshikage: Hoshikage, info: ModelInfo) -> datetime:
    now = datetime.now(timezone.utc)
    if info.expires_at is not None:
        return datetime.fromtimestamp(info.expires_at, timezone.utc)
    timeout = hoshikage.settings(info.id).idle_timeout
    if (info.running or info.queued) and math.isfinite(timeout):
        return now + timedelta(seconds=timeout)  # its clock starts when it is idle
    return now + timedelta(microseconds=FOREVER_NS // 1000)


@router.get("/api/ps")
async def ps(hoshikage: HoshikageDep, cache: FactsDep) -> dict[str, Any]:
    """The loaded models, the longest to stay first; ``size_vram`` is 0 (Hoshikage's
    memory estimate does not split RAM and VRAM)."""
    models = []
    for info in hoshikage.list_models():
        if info.state is not ModelState.READY:
            continue
        facts = await _facts(hoshikage, cache, info)
        expires = _expires(hoshikage, info)
        n_ctx = hoshikage.config.models[info.id].options.get("n_ctx")  # 0: the model's own
        context = facts.context_length if n_ctx == 0 else n_ctx
        models.append((expires, {
            "name": tagged(info.id), "model": tagged(info.id),
            "size": info.memory_bytes or facts.size, "size_vram": 0, "digest": facts.digest,
            "details": facts.details(), "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "context_length": context if isinstance(context, int) else 0}))
    models.sort(key=lambda m: m[0], reverse=True)
    return {"models": [m for _, m in models]}


@router.head("/api/version", include_in_schema=False)
@router.head("/api/tags", include_in_schema=False)
async def alive() -> dict[str, str]:
    """``HEAD``, as some clients check that Ollama is there."""
    return {}

