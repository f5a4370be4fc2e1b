"""``/v1/responses``: the chat service in the Responses API's shapes (what Codex CLI
and the OpenAI Agents SDK speak), and the responses kept for
``previous_response_id`` (:mod:`.response_store`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ...errors import HoshikageError, InvalidRequestError
from ...serving import ChatEvent
from ...types import ChatMessage
from ..deps import HoshikageDep, log_exchange, log_unknown_fields, require_api_key
from ..disconnect import until_disconnected
from ..schema_docs import ERROR_RESPONSES, STREAM_RESPONSES, error_responses
from ..streaming import Waiting, drain, open_patiently, sse_response
from .response_fold import ResponseFold
from .response_store import ResponseStore, StoredResponse
from .responses_protocol import NamedFunction, ResponsesRequest

router = APIRouter(tags=["openai"], dependencies=[Depends(require_api_key)],
                   responses=ERROR_RESPONSES)


def response_store(request: Request) -> ResponseStore:
    """The app's store (``create_app`` makes it, sized by ``[server] responses_store``)."""
    store: ResponseStore = request.app.state.responses
    return store


def _history(body: ResponsesRequest, store: ResponseStore) -> list[ChatMessage]:
    if body.previous_response_id is None:
        return []
    if store.capacity == 0:
        raise InvalidRequestError(
            "previous_response_id needs stored responses, and this server keeps none "
            "([server] responses_store = 0); send the whole conversation as input",
            param="previous_response_id")
    stored = store.get(body.previous_response_id)
    if stored is None:
        raise InvalidRequestError(
            f"Previous response with id '{body.previous_response_id}' not found: this server "
            f"keeps its last {store.capacity} responses in memory, until it restarts",
            param="previous_response_id", code="previous_response_not_found")
    return list(stored.history)


def _echo(body: ResponsesRequest) -> dict[str, Any]:
    """The request's settings, as a response repeats them."""
    choice = body.tool_choice
    return {
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "temperature": body.temperature if body.temperature is not None else 1.0,
        "top_p": body.top_p if body.top_p is not None else 1.0,
        "tool_choice": choice.model_dump(exclude_none=True) if isinstance(choice, NamedFunction)
        else choice or "auto",
        "tools": [t.model_dump(exclude_none=True) for t in body.tools or ()],
        "text": body.text.model_dump(exclude_none=True, by_alias=True) if body.text
        else {"format": {"type": "text"}},
        "reasoning": body.reasoning.model_dump() if body.reasoning
        else {"effort": None, "summary": None},
        "previous_response_id": body.previous_response_id,
        "store": body.store is not False,
        "metadata": body.metadata or {},
        "truncation": "disabled",
    }


@router.post("/v1/responses", response_model=None, responses=STREAM_RESPONSES)
async def create_response(body: ResponsesRequest, http_request: Request,
                          hoshikage: HoshikageDep) -> Response:
    log_unknown_fields(body, "responses")
    store = response_store(http_request)
    history = _history(body, store)
    request = body.to_service(history)
    name = hoshikage.canonical_name(request.model)
    http_request.state.hoshikage_model = name
    log_exchange(hoshikage, "prompt", body.input)
    fold = ResponseFold(name, _echo(body), body.namespaces())

    def keep() -> None:
        if body.store is not False:
            turns = list(request.messages)[1 if body.instructions else 0:]  # not carried over
            store.put(StoredResponse(fold.response, [*turns, *fold.history()]))

    if not body.stream:
        await until_disconnected(http_request, drain(hoshikage.stream_chat(request), fold.feed))
        log_exchange(hoshikage, "output", fold.response["output_text"])
        keep()
        return JSONResponse(fold.response)

    server = hoshikage.config.server
    first, rest = await until_disconnected(
        http_request, open_patiently(hoshikage.stream_chat(request), server.stream_ping))

    async def frames(events: AsyncIterator[ChatEvent | Waiting]) -> AsyncIterator[dict[str, Any]]:
        for frame in fold.start():
            yield frame
        async for event in events:
            if isinstance(event, Waiting):
                continue  # the stream has started: sse-starlette's comments keep it alive
            for frame in fold.feed(event):
                yield frame
        log_exchange(hoshikage, "output", fold.response["output_text"])
        keep()

    def failed(err: HoshikageError) -> dict[str, Any]:
        return fold.failed(err)

    return sse_response(first, rest, frames, shutdown_grace=server.shutdown_timeout,
                        error_payload=failed, done=None, named=True)


@router.get("/v1/responses/{response_id}", responses=error_responses(401, 404))
async def get_response(response_id: str, http_request: Request) -> dict[str, Any]:
    """A response this server kept (``store`` was not false)."""
    stored = response_store(http_request).get(response_id)
    if stored is None:
        raise _not_found(response_id)
    return stored.body


@router.delete("/v1/responses/{response_id}", responses=error_responses(401, 404))
async def delete_response(response_id: str, http_request: Request) -> dict[str, Any]:
    if not response_store(http_request).delete(response_id):
        raise _not_found(response_id)
    return {"id": response_id, "object": "response", "deleted": True}


def _not_found(response_id: str) -> HoshikageError:
    return HoshikageError(f"Response with id '{response_id}' not found.", status_code=404,
                          error_type="invalid_request_error", code="not_found",
                          param="response_id")
