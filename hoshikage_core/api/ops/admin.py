"""Operations on models: status, load, unload, pin (``/admin/models``), reload
(``/admin/reload``).

Status never loads a model or resets an idle timer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from ...errors import ConfigError, HoshikageError, InvalidConfigError
from ...hoshikage import Hoshikage, LoadEvent, ModelState
from ...ops.watch import reload_and_log
from ..deps import HoshikageDep, require_api_key
from ..schema_docs import error_responses

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_api_key)],
                   responses=error_responses(401, 404))


@router.get("/models")
async def models_status(hoshikage: HoshikageDep) -> dict[str, Any]:
    """Every model: state, memory, last use, expiry, running and queued requests, where
    it came from; and what discovery found but serves under another name or not at all."""
    return {"data": [info.to_dict() for info in hoshikage.list_models(include_removed=True)],
            "discovery": hoshikage.config.discovery_report.to_dict()}


@router.post("/reload", responses=error_responses(400))
async def reload_config(hoshikage: HoshikageDep) -> dict[str, Any]:
    """Read the config file again and apply it (as SIGHUP and ``hoshikage reload`` do):
    which models were added, removed, reloaded, updated or unchanged. An invalid file is
    refused with a 400 (``invalid_config``) naming the file and key; nothing changes."""
    try:
        return (await reload_and_log(hoshikage, "POST /admin/reload")).to_dict()
    except ConfigError as exc:
        raise InvalidConfigError(str(exc)) from None


@router.get("/models/{model_id:path}")
async def model_status(model_id: str,
                       hoshikage: HoshikageDep) -> dict[str, Any]:
    return hoshikage.get(model_id).to_dict()


LOAD_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "The model's status; with ?stream=true, NDJSON progress lines first.",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
}, **error_responses(400, 413, 500, 503)}


@router.post("/models/{model_id:path}/load", response_model=None, responses=LOAD_RESPONSES)
async def load_model(model_id: str, hoshikage: HoshikageDep,
                     stream: bool = False) -> dict[str, Any] | StreamingResponse:
    """Load now (waits for room like a request would); returns the model's status.

    With ``?stream=true`` the answer is NDJSON, one line per whole percent
    loaded (``{"id", "state": "loading", "load_progress"}``), then the model's
    status, or an OpenAI-shaped ``{"error": ...}`` line if the load fails.
    """
    if not stream:
        return (await hoshikage.load(model_id)).to_dict()
    name = hoshikage.canonical_name(model_id)  # 404 before anything streams
    return StreamingResponse(load_progress_lines(hoshikage, name),
                             media_type="application/x-ndjson")


async def load_progress_lines(hoshikage: Hoshikage, name: str) -> AsyncIterator[str]:
    events: asyncio.Queue[LoadEvent] = asyncio.Queue()
    stop_watching = hoshikage.watch_loads(
        lambda event: events.put_nowait(event) if event.model == name else None)
    loading = asyncio.ensure_future(hoshikage.load(name))
    try:
        while True:  # every event that came before the load ended, then the end
            next_event = asyncio.ensure_future(events.get())
            await asyncio.wait([loading, next_event], return_when=asyncio.FIRST_COMPLETED)
            if not next_event.done():
                next_event.cancel()
                break
            event = next_event.result()
            if event.state is ModelState.LOADING:
                yield _line({"id": name, "state": "loading", "load_progress": event.progress})
        try:
            yield _line((await loading).to_dict())
        except HoshikageError as exc:
            yield _line(exc.to_dict())
    finally:
        stop_watching()
        loading.cancel()


def _line(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":")) + "\n"


@router.post("/models/{model_id:path}/pin", responses=error_responses(400))
async def pin_model(model_id: str, hoshikage: HoshikageDep) -> dict[str, Any]:
    """Never unload this model by its idle timer or to make room; returns its status."""
    return hoshikage.pin(model_id).to_dict()


@router.post("/models/{model_id:path}/unpin", responses=error_responses(400))
async def unpin_model(model_id: str, hoshikage: HoshikageDep) -> dict[str, Any]:
    """Let the idle timer and eviction unload it again; returns its status."""
    return hoshikage.pin(model_id, pinned=False).to_dict()


@router.post("/models/{model_id:path}/unload", responses=error_responses(413))
async def unload_model(model_id: str,
                       hoshikage: HoshikageDep) -> dict[str, Any]:
    """Unload once running requests have finished; returns the model's status."""
    return (await hoshikage.unload(model_id)).to_dict()
