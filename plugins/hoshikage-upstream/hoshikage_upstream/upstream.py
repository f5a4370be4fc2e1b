"""One model served by a pool of upstream servers: load check, streaming, embeddings,
rerank."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from hoshikage_core.errors import BackendError, HoshikageError
from hoshikage_core.types import Chunk, Embeddings, GenerationRequest, ModelSpec, Relevance, Usage

from .options import UpstreamOptions
from .pool import UpstreamPool
from .wire import chunk_from_event, error_from_response, request_body

__all__ = ["Upstream"]

log = logging.getLogger(__name__)


class Upstream:
    """The handle of an ``upstream`` model."""

    def __init__(self, spec: ModelSpec, options: UpstreamOptions) -> None:
        self.name = spec.name
        self.options = options
        self.model = options.model or spec.name
        self.pool = UpstreamPool(options.base_urls, options.unhealthy_for)
        self.headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}
        self.timeout = httpx.Timeout(options.read_timeout, connect=options.connect_timeout)
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- loading: is any server up, and does it have the model? -----------------------

    def check(self) -> None:
        """Fail the load with a clear reason if no server can serve the model: 503
        ``upstream_unavailable`` when none answers.

        A server's model list is a hint, not the truth: servers answer for names
        they do not list (aliases; Ollama's ``llama3.2`` for ``llama3.2:latest``;
        llama-server answers for any name). A name that is not listed is looked up
        with ``GET /models/{name}``; if that does not confirm it either, the load
        still succeeds with a warning, and the first request decides.
        """
        problems = []
        with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
            for url in self.pool.order():
                try:
                    response = client.get(f"{url}/models")
                except httpx.TransportError as exc:
                    self.pool.failed(url)
                    problems.append(f"{url}: {type(exc).__name__}")
                    continue
                if response.status_code >= 400:
                    problems.append(f"{url}: HTTP {response.status_code}")
                    continue
                ids = _listed_ids(response)
                if ids and self.model not in ids and not self._confirmed(client, url):
                    log.warning("%s: %s does not list model '%s' (it lists: %s); loading "
                                "anyway, the first request will tell", self.name, url,
                                self.model, ", ".join(map(str, ids[:10])))
                return
        raise HoshikageError(f"Model '{self.name}': no upstream can serve it: "
                             + "; ".join(problems), status_code=503,
                             error_type="server_error", code="upstream_unavailable")

    def _confirmed(self, client: httpx.Client, url: str) -> bool:
        """Whether ``GET {url}/models/{model}`` knows the model (it resolves aliases)."""
        try:
            return client.get(f"{url}/models/{self.model}").status_code == 200
        except httpx.TransportError:
            return False

    # -- generation --------------------------------------------------------------------

    def _async_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._loop = asyncio.get_running_loop()
            self._client = httpx.AsyncClient(timeout=self.timeout, headers=self.headers)
        return self._client

    async def generate(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        path, body = request_body(request, self.model)
        client = self._async_client()
        failures: list[str] = []
        for url in self.pool.order():
            with self.pool.lease(url):
                try:
                    async with client.stream("POST", f"{url}{path}", json=body) as response:
                        if response.status_code >= 400:
                            error = error_from_response(response.status_code,
                                                        (await response.aread()).decode(), url)
                            if error.status_code < 500:
                                raise error  # the request's fault: another server won't help
                            failures.append(error.message)
                            continue
                        self.pool.succeeded(url)
                        async for chunk in self._relay(response):
                            yield chunk
                        return
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    self.pool.failed(url)
                    failures.append(f"{url}: cannot connect ({type(exc).__name__})")
        raise HoshikageError(
            f"No upstream of model '{self.name}' could take the request: "
            + "; ".join(failures), status_code=503, error_type="server_error",
            code="upstream_unavailable")

    async def _relay(self, response: httpx.Response) -> AsyncIterator[Chunk]:
        """Server-sent events in, chunks out; the final chunk gets the usage."""
        final: Chunk | None = None
        usage: Usage | None = None
        pieces = 0
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk, event_usage = chunk_from_event(json.loads(data))
                usage = event_usage or usage
                if chunk is None:
                    continue
                if chunk.finish_reason is not None:
                    final = chunk  # held until the usage event that follows it
                    continue
                pieces += 1
                yield chunk
        except httpx.ReadTimeout as exc:
            raise BackendError(f"The upstream stopped answering ({exc})", status_code=504) \
                from exc
        except httpx.TransportError as exc:
            raise BackendError(f"The upstream connection broke mid-stream ({exc})") from exc
        if usage is None:  # an upstream without stream_options.include_usage
            log.warning("%s: the upstream sent no usage; counting stream chunks", self.name)
            usage = Usage(0, pieces)
        yield Chunk(text=final.text if final else "",
                    finish_reason=final.finish_reason if final else "stop",
                    usage=usage, logprobs=final.logprobs if final else ())

    # -- embeddings and rerank -----------------------------------------------------------

    def embed(self, inputs: Sequence[str | Sequence[int]]) -> Embeddings:
        data = self._post("embeddings", "embed", {
            "model": self.model, "input": [i if isinstance(i, str) else list(i) for i in inputs],
            "encoding_format": "float"})
        vectors = [d["embedding"] for d in sorted(data["data"], key=lambda d: d["index"])]
        tokens = int((data.get("usage") or {}).get("prompt_tokens", 0))
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    def rerank(self, query: str, documents: Sequence[str]) -> Relevance:
        """Scores from the upstream's ``/rerank`` (llama-server, vLLM, Hoshikage)."""
        data = self._post("rerank", "rank documents", {
            "model": self.model, "query": query, "documents": list(documents)})
        scores = [0.0] * len(documents)
        for result in data["results"]:
            scores[int(result["index"])] = float(result.get("relevance_score",
                                                            result.get("score", 0.0)))
        tokens = int((data.get("usage") or {}).get("prompt_tokens", 0))
        return Relevance(scores=scores, prompt_tokens=tokens)

    def _post(self, path: str, what: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` to the first upstream that answers; its client errors are ours."""
        failures = []
        with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
            for url in self.pool.order():
                with self.pool.lease(url):
                    try:
                        response = client.post(f"{url}/{path}", json=body)
                    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                        self.pool.failed(url)
                        failures.append(f"{url}: cannot connect ({type(exc).__name__})")
                        continue
                if response.status_code >= 400:
                    error = error_from_response(response.status_code, response.text, url)
                    if error.status_code < 500:
                        raise error
                    failures.append(error.message)
                    continue
                data: dict[str, Any] = response.json()
                return data
        raise HoshikageError(f"No upstream could {what}: " + "; ".join(failures),
                             status_code=503, error_type="server_error",
                             code="upstream_unavailable")

    def close(self) -> None:
        client, loop = self._client, self._loop
        self._client = None
        if client is not None and loop is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=10)
            except Exception:  # the loop is going away: connections die with it
                log.debug("%s: could not close the upstream client cleanly", self.name)

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "busy": self.pool.busy()}


def _listed_ids(response: httpx.Response) -> list[str]:
    """The model ids of a ``GET /models`` answer; none if it is not the usual shape."""
    try:
        data = response.json().get("data", [])
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
    except (ValueError, AttributeError):
        return []
