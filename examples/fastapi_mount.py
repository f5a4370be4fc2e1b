"""Embed Hoshikage's OpenAI API inside your own FastAPI app, under /llm.

    pip install 'hoshikage[llamacpp]'
    uvicorn examples.fastapi_mount:app --port 8000
    curl http://127.0.0.1:8000/llm/v1/models
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hoshikage_core import Hoshikage, create_app
from hoshikage_core.config import default_config

hoshikage = Hoshikage(default_config())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with hoshikage:  # unloads the models when your app stops
        yield


app = FastAPI(lifespan=lifespan)
app.mount("/llm", create_app(hoshikage))


@app.get("/")
async def index() -> dict[str, str]:
    answer = await hoshikage.complete("Hoshikage means", model="default", max_tokens=12)
    return {"hoshikage means": answer.text}
