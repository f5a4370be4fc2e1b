"""``create_app``: a FastAPI app serving one Hoshikage."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..hoshikage import ConfigSource, Hoshikage
from .anthropic import messages
from .anthropic.errors import anthropic_error
from .errors import install_error_handlers
from .extras import rerank, templates, tokens
from .middleware import BodySizeLimit, RequestContext
from .ollama import chat as ollama_chat
from .ollama import embed as ollama_embed
from .ollama import generate as ollama_generate
from .ollama import models as ollama_models
from .ollama import unsupported as ollama_unsupported
from .ollama.errors import ollama_error
from .openai import chat, completions, embeddings, models, responses
from .openai.response_store import ResponseStore
from .ops import admin, health, metrics, ui
from .schema_docs import install_openapi

__all__ = ["create_app"]


def create_app(
    hoshikage: Hoshikage | ConfigSource,
    *,
    close_on_shutdown: bool | None = None,
) -> FastAPI:
    """A FastAPI app serving ``hoshikage`` in every dialect (OpenAI, Anthropic, Ollama).

    Pass a :class:`Hoshikage` you manage yourself (it is not closed when the
    app stops, unless ``close_on_shutdown=True``), or anything ``Hoshikage``
    accepts as config (then the app owns it and unloads models on shutdown).
    The app can be served by uvicorn or mounted into another FastAPI app.
    """
    if isinstance(hoshikage, Hoshikage):
        instance, owns = hoshikage, bool(close_on_shutdown)
    else:
        instance = Hoshikage(hoshikage)
        owns = close_on_shutdown is not False

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await instance.start()
        try:
            yield
        finally:
            if owns:
                await instance.aclose()

    # sse-starlette logs every chunk it sends at DEBUG: that would put outputs in the
    # logs. Prompts and outputs are logged only through [server] log_prompts.
    logging.getLogger("sse_starlette").setLevel(logging.INFO)
    app = FastAPI(
        title="Hoshikage",
        version=__version__,
        description="Local GGUF models behind an OpenAI-compatible API.",
        lifespan=lifespan,
        openapi_url=None, docs_url=None, redoc_url=None,  # served by install_openapi, keyed
    )
    app.state.hoshikage = instance
    app.state.responses = ResponseStore(instance.config.server.responses_store)
    install_error_handlers(app, [("/v1/messages", anthropic_error), ("/api/", ollama_error)])
    install_openapi(app)
    for module in (health, models, chat, completions, responses, embeddings, messages, rerank,
                   tokens, templates, admin, metrics, ollama_models, ollama_chat,
                   ollama_generate, ollama_embed, ollama_unsupported):
        app.include_router(module.router)
    server = instance.config.server
    if server.ui:
        app.include_router(ui.router)
    if server.cors_origins:  # off unless configured
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=server.cors_origins,
                           allow_methods=["GET", "POST", "OPTIONS"],
                           allow_headers=["authorization", "content-type", "x-request-id",
                                          "x-api-key", "anthropic-version", "anthropic-beta"],
                           expose_headers=["x-request-id", "retry-after"])
    app.add_middleware(BodySizeLimit, limit=server.max_body_size)
    app.add_middleware(RequestContext, metrics=instance.metrics)  # outermost: sees all
    return app
