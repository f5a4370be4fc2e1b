"""Faults in the core: failing unloads, unloads racing new requests, files vanishing."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest

from hoshikage_core import Hoshikage
from hoshikage_core.errors import ModelLoadError
from hoshikage_core.lifecycle import ModelState
from hoshikage_core.testing.clock import FakeClock
from tests.core.lifecycle_kit import eventually
from tests.fakes import EchoBackend


def config(tmp_path: Path, **models: dict[str, object]) -> dict[str, object]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    return {"models": {name: {"backend": "echo", "path": str(model_file), **spec}
                       for name, spec in models.items()}}


async def test_an_unload_that_raises_still_frees_the_model(tmp_path: Path) -> None:
    echo = EchoBackend(fail_unload=True)
    async with Hoshikage(config(tmp_path, a={}, b={}), plugins={"echo": echo}) as hk:
        await hk.complete("x", model="a")
        info = await hk.models.unload("a")
        assert info.state is ModelState.UNLOADED  # logged, not stuck
        assert (await hk.complete("again", model="a")).text == "again"  # loads again
        assert (await hk.complete("other", model="b")).text == "other"


async def test_a_request_arriving_while_the_idle_unload_runs_is_served(tmp_path: Path) -> None:
    clock, echo = FakeClock(), EchoBackend(unload_gate=threading.Event())
    async with Hoshikage(config(tmp_path, a={"idle_timeout": "10s"}),
                         plugins={"echo": echo}, clock=clock) as hk:
        await hk.complete("first", model="a")
        await clock.advance(11)  # the reaper starts unloading; the backend is slow at it
        await eventually(lambda: hk.list_models()[0].state is ModelState.UNLOADING)
        late = asyncio.ensure_future(hk.complete("late", model="a"))
        await eventually(lambda: hk.list_models()[0].queued == 1)
        assert not late.done()  # it waits; it is not served by a model being freed
        echo.unload_gate.set()  # type: ignore[union-attr]
        assert (await asyncio.wait_for(late, 30)).text == "late"
        assert echo.loads == ["a", "a"] and echo.unloads == ["a"]


@pytest.mark.real_model
async def test_a_model_file_removed_after_startup_fails_alone(tmp_path: Path,
                                                              tiny_gguf_path: Path) -> None:
    doomed = tmp_path / "doomed.gguf"
    shutil.copy(tiny_gguf_path, doomed)
    cfg = {"models": {"doomed": {"path": str(doomed)},
                      "tiny": {"path": str(tiny_gguf_path), "options": {"n_ctx": 128}}}}
    async with Hoshikage(cfg) as hk:
        doomed.unlink()
        with pytest.raises(ModelLoadError) as info:
            await hk.complete("x", model="doomed", max_tokens=1)
        assert "doomed" in info.value.message
        assert hk.list_models()[0].state is ModelState.FAILED
        assert (await hk.complete("x", model="tiny", max_tokens=2, logit_bias={2: -100})
                ).usage.completion_tokens == 2


async def test_no_threads_or_slots_leak_over_many_cancelled_streams(tmp_path: Path) -> None:
    from hoshikage_core import GenerationRequest

    echo = EchoBackend(gate=threading.Event())
    async with Hoshikage(config(tmp_path, a={"parallel": 2, "max_queue": 100}),
                         plugins={"echo": echo}) as hk:
        echo.gate.set()  # type: ignore[union-attr]
        await hk.complete("warm up", model="a")
        echo.gate.clear()  # type: ignore[union-attr]  # from now on, generations hang
        baseline = threading.active_count()
        streams = [hk.generate(GenerationRequest(model="a", prompt="w " * 20))
                   for _ in range(40)]
        tasks = [asyncio.ensure_future(s.__anext__()) for s in streams]
        await eventually(lambda: hk.list_models()[0].running == 2)
        for task in tasks:
            task.cancel()
        echo.gate.set()  # type: ignore[union-attr]
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in streams:
            await stream.aclose()
        await eventually(lambda: hk.list_models()[0].running == 0
                         and hk.list_models()[0].queued == 0)
        assert (await hk.complete("still fine", model="a")).text == "still fine"
        await eventually(lambda: threading.active_count() <= baseline + 2)
