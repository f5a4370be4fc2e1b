"""OpenAI wire format in both directions: our requests out, their answers and errors in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hoshikage_core.errors import BackendError, HoshikageError, InvalidRequestError
from hoshikage_core.types import (
    Chunk,
    FinishReason,
    GenerationRequest,
    TokenLogprob,
    TopLogprob,
    Usage,
)

__all__ = ["chunk_from_event", "error_from_response", "request_body"]

_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed")
_EXTENSIONS = ("top_k", "min_p", "repeat_penalty")  # llama.cpp, vLLM and Hoshikage take these


def request_body(request: GenerationRequest, model: str) -> tuple[str, dict[str, Any]]:
    """The upstream path and JSON body for ``request`` (always streamed, with usage)."""
    body: dict[str, Any] = {"model": model, "stream": True,
                            "stream_options": {"include_usage": True}}
    for field in (*_SAMPLING, *_EXTENSIONS):
        value = getattr(request, field)
        if value is not None:
            body[field] = value
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if request.logit_bias:
        body["logit_bias"] = {str(k): v for k, v in request.logit_bias.items()}
    if request.messages is not None:
        body["messages"] = [_message(m) for m in request.messages]
        if request.logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = request.logprobs
        if request.json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "response", "schema": dict(request.json_schema), "strict": True}}
        return "/chat/completions", body
    body["prompt"] = list(request.prompt_tokens) if request.prompt_tokens is not None \
        else request.prompt
    if request.logprobs is not None:
        body["logprobs"] = request.logprobs
    if request.suffix is not None:
        body["suffix"] = request.suffix
    if request.json_schema is not None:
        raise InvalidRequestError("response_format needs a chat request with the upstream "
                                  "backend", param="response_format")
    return "/completions", body


def _message(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [dict(c) for c in message.tool_calls]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def chunk_from_event(event: Mapping[str, Any]) -> tuple[Chunk | None, Usage | None]:
    """One streamed event → our chunk (text, finish reason, logprobs) and usage, if any."""
    if "error" in event:
        error = event["error"] if isinstance(event["error"], Mapping) else {}
        raise BackendError(f"The upstream failed mid-stream: {error.get('message', event)}")
    usage = event.get("usage")
    details = (usage or {}).get("prompt_tokens_details") or {}
    parsed_usage = (Usage(int(usage.get("prompt_tokens", 0)),
                          int(usage.get("completion_tokens", 0)),
                          int(details.get("cached_tokens", 0) or 0)) if usage else None)
    choices = event.get("choices") or []
    if not choices:
        return None, parsed_usage
    choice = choices[0]
    delta = choice.get("delta")
    text = (delta.get("content") or "") if isinstance(delta, Mapping) else choice.get("text", "")
    finish = choice.get("finish_reason")
    logprobs = _logprobs(choice.get("logprobs"))
    if not text and not finish and not logprobs:
        return None, parsed_usage
    reason: FinishReason | None = None
    if finish is not None:
        reason = "length" if finish == "length" else "stop"
    return Chunk(text=text or "", finish_reason=reason, logprobs=logprobs), parsed_usage


def _logprobs(raw: Any) -> tuple[TokenLogprob, ...]:
    if not isinstance(raw, Mapping):
        return ()
    if isinstance(raw.get("content"), list):  # chat shape
        return tuple(TokenLogprob(
            str(t.get("token", "")), float(t.get("logprob", 0.0)), tuple(t.get("bytes") or ()),
            tuple(TopLogprob(str(x.get("token", "")), float(x.get("logprob", 0.0)),
                             tuple(x.get("bytes") or ())) for x in t.get("top_logprobs") or []),
        ) for t in raw["content"])
    tokens = raw.get("tokens") or []  # legacy completions shape
    values = raw.get("token_logprobs") or []
    tops = raw.get("top_logprobs") or [{}] * len(tokens)
    return tuple(TokenLogprob(str(tok), float(lp or 0.0), tuple(str(tok).encode()),
                              tuple(TopLogprob(str(k), float(v)) for k, v in (top or {}).items()))
                 for tok, lp, top in zip(tokens, values, tops))


def error_from_response(status: int, text: str, url: str) -> HoshikageError:
    """An upstream error answer as ours: the client's faults stay 4xx, the rest is 502/503."""
    try:
        body = json.loads(text)
        detail = body.get("error", body) if isinstance(body, dict) else {}
        if isinstance(detail, str):
            detail = {"message": detail}
    except ValueError:
        detail = {"message": text.strip()[:500] or f"HTTP {status}"}
    message = str(detail.get("message") or f"HTTP {status}")
    if status in (400, 413, 422):
        error = InvalidRequestError(message, param=detail.get("param"))
        if detail.get("code"):
            error.code = str(detail["code"])
        return error
    if status == 404 and "model" in message.lower():  # vLLM, Ollama, Hoshikage: no such model
        return HoshikageError(f"The upstream {url} has no such model: {message}",
                              status_code=404, error_type="invalid_request_error",
                              code="model_not_found")
    if status in (429, 503):
        return HoshikageError(f"The upstream {url} is busy: {message}", status_code=503,
                              error_type="server_error", code="upstream_busy")
    if status in (401, 403):
        message = f"The upstream {url} refused our API key ({message}); check api_key"
    return HoshikageError(f"The upstream {url} answered {status}: {message}", status_code=502,
                          error_type="server_error", code="upstream_error")
