"""Ollama's model management (pull, push, create, delete, copy, blobs): Hoshikage
serves the models its config file names, so each answers a 400 saying so."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ...errors import InvalidRequestError
from .routing import ollama_router

__all__ = ["MANAGEMENT", "refusal", "router"]

router = ollama_router()

MANAGEMENT = (("/api/pull", "POST", "pull"), ("/api/push", "POST", "push"),
              ("/api/create", "POST", "create"), ("/api/delete", "DELETE", "delete"),
              ("/api/copy", "POST", "copy"))
"""Each refused path, its method, and what Hoshikage does not do."""


def refusal(verb: str) -> str:
    """The 400's message."""
    return (f"Hoshikage serves the models in its config file and does not {verb} models: "
            "to add one, name its GGUF file in a [models.NAME] table of hoshikage.toml "
            "(path = \"...\") and restart; to remove one, delete its table.")


def _refuse(verb: str) -> Callable[[], Awaitable[None]]:
    async def refuse() -> None:
        raise InvalidRequestError(refusal(verb))

    refuse.__doc__ = f"Not supported: Hoshikage does not {verb} models (400)."
    return refuse


def _add_routes() -> None:
    for path, method, verb in MANAGEMENT:
        router.add_api_route(path, _refuse(verb), methods=[method], name=f"ollama_{verb}")


_add_routes()


@router.post("/api/blobs/{digest}")
async def upload_blob(digest: str) -> None:
    """Not supported: Hoshikage does not take model files over HTTP (400)."""
    raise InvalidRequestError(refusal("upload blobs for"))


@router.head("/api/blobs/{digest}", include_in_schema=False)
async def blob_exists(digest: str) -> None:
    raise InvalidRequestError(refusal("upload blobs for"))
