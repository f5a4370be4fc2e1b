"""The backend conformance suite: what every Hoshikage backend must do.

Subclass :class:`BackendConformance` in your plugin's tests (name the subclass
``Test...``) and give it a ``conformance`` fixture returning a
:class:`ConformanceSetup`::

    from hoshikage_core.testing.conformance import BackendConformance, ConformanceSetup

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def conformance(self, tmp_path):
            return ConformanceSetup(
                config={"models": {"m": {"backend": "mine", "path": str(model_file)}}},
                model="m",
            )

Each check runs through a real :class:`~hoshikage_core.Hoshikage` (model
manager, worker threads, dispatch), so what passes here works in the server.
The checks use ``temperature = 0`` where they compare outputs, so a
deterministic backend passes reliably; ``prompt`` must make the model write
at least a dozen tokens without ending on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from ..errors import HoshikageError
from ..hoshikage import Hoshikage, ModelState
from ..types import Chunk, GenerationRequest

__all__ = ["BackendConformance", "ConformanceSetup"]

T = TypeVar("T")


@dataclass(frozen=True)
class ConformanceSetup:
    """What the suite needs: a config, the model to test, and optionally more."""

    config: Mapping[str, Any]
    model: str
    plugins: Mapping[str, object] = field(default_factory=dict)
    prompt: str = "Once upon a time"
    broken_model: str | None = None  # a configured model that cannot load, if you have one
    too_long_prompt: str = "word " * 50_000


def run(setup: ConformanceSetup, check: Callable[[Hoshikage], Awaitable[T]]) -> T:
    """Run ``check`` against a fresh Hoshikage built from ``setup`` (its own event loop)."""

    async def main() -> T:
        async with Hoshikage(setup.config, plugins=dict(setup.plugins)) as hk:
            return await check(hk)

    return asyncio.run(main())


async def collect(hk: Hoshikage, request: GenerationRequest) -> list[Chunk]:
    async with aclosing(hk.generate(request)) as chunks:
        return [chunk async for chunk in chunks]


def _text(chunks: list[Chunk]) -> str:
    return "".join(c.text for c in chunks)


class BackendConformance:
    """Checks for one backend. Subclass it as ``Test...`` and provide ``conformance``."""

    @pytest.fixture
    def conformance(self) -> ConformanceSetup:  # pragma: no cover - overridden
        raise NotImplementedError("define a `conformance` fixture returning ConformanceSetup")

    def _request(self, setup: ConformanceSetup, **fields: Any) -> GenerationRequest:
        fields.setdefault("prompt", setup.prompt)
        fields.setdefault("temperature", 0.0)
        return GenerationRequest(model=setup.model, **fields)

    def test_loads_generates_and_unloads(self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            assert hk.get(conformance.model).state is ModelState.UNLOADED
            chunks = await collect(hk, self._request(conformance, max_tokens=4))
            assert hk.get(conformance.model).state is ModelState.READY
            assert chunks and chunks[-1].is_final
            info = await hk.unload(conformance.model)
            assert info.state is ModelState.UNLOADED

        run(conformance, check)

    def test_streams_chunks_then_one_final_chunk(self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            chunks = await collect(hk, self._request(conformance, max_tokens=8))
            assert len(chunks) >= 2, "text should arrive in pieces, before the final chunk"
            assert [c.is_final for c in chunks] == [False] * (len(chunks) - 1) + [True]
            final = chunks[-1]
            assert final.finish_reason in ("stop", "length") and final.usage is not None

        run(conformance, check)

    def test_max_tokens_ends_with_length_and_exact_usage(
            self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            for limit in (1, 5):
                final = (await collect(hk, self._request(conformance, max_tokens=limit)))[-1]
                assert final.finish_reason == "length"
                assert final.usage is not None and final.usage.completion_tokens == limit
                assert final.usage.prompt_tokens > 0

        run(conformance, check)

    def test_same_request_same_usage_and_text(self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            one = await collect(hk, self._request(conformance, max_tokens=6))
            two = await collect(hk, self._request(conformance, max_tokens=6))
            assert _text(one) == _text(two)
            first, second = one[-1].usage, two[-1].usage
            assert first is not None and second is not None
            assert (first.prompt_tokens, first.completion_tokens) == \
                (second.prompt_tokens, second.completion_tokens)

        run(conformance, check)

    def test_stop_sequence_cuts_the_text(self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            full = _text(await collect(hk, self._request(conformance, max_tokens=12)))
            assert len(full) >= 4, f"the prompt should make a longer answer than {full!r}"
            stop = full[len(full) // 2: len(full) // 2 + 2]
            cut = full.index(stop)
            chunks = await collect(hk, self._request(conformance, max_tokens=12, stop=[stop]))
            assert _text(chunks) == full[:cut]
            assert chunks[-1].finish_reason == "stop"
            assert all(stop not in c.text for c in chunks)

        run(conformance, check)

    def test_chat_is_served(self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            result = await hk.chat([{"role": "user", "content": conformance.prompt}],
                                   model=conformance.model, max_tokens=4, temperature=0)
            assert result.finish_reason in ("stop", "length")
            assert result.usage.prompt_tokens > 0

        run(conformance, check)

    def test_closing_a_stream_stops_the_backend(self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            stream = hk.generate(self._request(conformance, max_tokens=200))
            async for _ in stream:
                break
            await stream.aclose()
            assert hk.get(conformance.model).running == 0, \
                "the slot is free once the stream is closed"
            final = (await collect(hk, self._request(conformance, max_tokens=2)))[-1]
            assert final.usage is not None

        run(conformance, check)

    def test_a_prompt_too_long_is_a_client_error(self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            with pytest.raises(HoshikageError) as info:
                await collect(hk, self._request(conformance, prompt=conformance.too_long_prompt,
                                                max_tokens=2))
            assert info.value.status_code == 400, info.value.message
            await collect(hk, self._request(conformance, max_tokens=1))  # still serving

        run(conformance, check)

    def test_an_empty_prompt_is_served_or_refused_as_a_client_error(
            self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            try:
                final = (await collect(hk, self._request(conformance, prompt="",
                                                         max_tokens=2)))[-1]
            except HoshikageError as exc:
                assert exc.status_code == 400, exc.message
            else:
                assert final.is_final and final.usage is not None

        run(conformance, check)

    def test_max_tokens_beyond_any_context_is_a_client_error(
            self, conformance: ConformanceSetup) -> None:
        async def check(hk: Hoshikage) -> None:
            with pytest.raises(HoshikageError) as info:
                await collect(hk, self._request(conformance, max_tokens=10**12))
            assert info.value.status_code == 400, info.value.message
            assert info.value.param == "max_tokens", info.value.message
            await collect(hk, self._request(conformance, max_tokens=1))  # still serving

        run(conformance, check)

    def test_fields_are_honoured_or_refused_never_ignored(
            self, conformance: ConformanceSetup) -> None:
        """Each optional field either works or gets a 400 naming it: ``logprobs`` come
        with every token, a JSON schema shapes the output, ``logit_bias`` moves it."""

        async def attempt(hk: Hoshikage, **fields: Any) -> list[Chunk] | None:
            try:
                return await collect(hk, self._request(conformance, **fields))
            except HoshikageError as exc:
                assert exc.status_code == 400 and exc.param, (fields, exc.message)
                return None  # refused, clearly

        async def check(hk: Hoshikage) -> None:
            chunks = await attempt(hk, max_tokens=3, logprobs=2)
            if chunks is not None:
                usage = chunks[-1].usage
                tokens = [t for c in chunks for t in c.logprobs]
                assert usage is not None and len(tokens) == usage.completion_tokens
                assert all(t.logprob <= 0 and len(t.top) == 2 for t in tokens)
            chunks = await attempt(hk, max_tokens=8, json_schema={"type": "boolean"})
            if chunks is not None:
                assert _text(chunks).strip() in ("true", "false"), _text(chunks)
            await self._check_logit_bias(hk, conformance, attempt)
            chunks = await attempt(hk, max_tokens=3, suffix="The end.")
            if chunks is not None:
                assert chunks[-1].is_final

        run(conformance, check)

    async def _check_logit_bias(self, hk: Hoshikage, setup: ConformanceSetup,
                                attempt: Callable[..., Awaitable[list[Chunk] | None]]) -> None:
        """A large positive bias on one token makes the model write only that token."""
        capabilities = hk.capabilities(setup.model)
        if not (capabilities.has("hoshikage_tokenize")
                and capabilities.has("hoshikage_detokenize")):
            chunks = await attempt(hk, max_tokens=3, logit_bias={0: 0.0})
            if chunks is not None:  # honoured, but this backend offers no way to check it
                assert chunks[-1].is_final
            return
        token = (await hk.tokenize(setup.model, "x", add_special=False))[-1]
        chunks = await attempt(hk, max_tokens=3, logit_bias={token: 100.0})
        if chunks is not None:
            expected = await hk.detokenize(setup.model, [token] * 3)
            assert _text(chunks) == expected, (_text(chunks), expected)

    def test_a_model_that_cannot_load_fails_alone(self, conformance: ConformanceSetup) -> None:
        if conformance.broken_model is None:
            pytest.skip("no broken_model in the ConformanceSetup")
        broken = conformance.broken_model

        async def check(hk: Hoshikage) -> None:
            with pytest.raises(HoshikageError) as info:
                await collect(hk, GenerationRequest(model=broken, prompt="x", max_tokens=1))
            assert info.value.status_code >= 500 and info.value.message
            await collect(hk, self._request(conformance, max_tokens=1))

        run(conformance, check)
