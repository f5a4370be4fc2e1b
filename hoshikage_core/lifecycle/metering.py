"""Per-generation metrics: time to first token, inter-token latency, token counts."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from ..ops.metrics import Metrics
from ..types import Chunk

__all__ = ["metered"]

log = logging.getLogger(__name__)


async def metered(chunks: AsyncIterator[Chunk], metrics: Metrics, model: str,
                  started: float) -> AsyncGenerator[Chunk, None]:
    """``chunks``, observed into ``metrics`` for ``model`` (``started``: perf_counter
    when the request got its slot); logs a generation that ended early."""
    sent, finished, last_text = 0, False, 0.0
    try:
        async with aclosing(chunks):  # type: ignore[type-var]
            async for chunk in chunks:
                finished = chunk.is_final
                sent += 1
                if chunk.text:
                    now = time.perf_counter()
                    if last_text:
                        metrics.inter_token_latency.labels(model).observe(now - last_text)
                    else:
                        metrics.time_to_first_token.labels(model).observe(now - started)
                    last_text = now
                if chunk.usage is not None:
                    metrics.prompt_tokens.labels(model).inc(chunk.usage.prompt_tokens)
                    metrics.generated_tokens.labels(model).inc(chunk.usage.completion_tokens)
                    metrics.cached_prompt_tokens.labels(model).inc(chunk.usage.cached_tokens)
                    metrics.draft_tokens.labels(model).inc(chunk.usage.draft_tokens)
                    metrics.accepted_draft_tokens.labels(model).inc(
                        chunk.usage.accepted_draft_tokens)
                yield chunk
    finally:
        if not finished:
            log.info("%s: generation stopped early after %d chunks (client gone or error)",
                     model, sent)
