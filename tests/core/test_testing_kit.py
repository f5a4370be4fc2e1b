"""The pytest plugin plugin authors get: its fixtures work as documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hoshikage_core.lifecycle import ModelState
from hoshikage_core.testing.pytest_plugin import _hoshikage_factory
from tests.fakes import EchoBackend


def config(tmp_path: Path) -> dict[str, Any]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    return {"models": {"m": {"backend": "echo", "path": str(model_file)}}}


async def test_hoshikage_factory_builds_with_plugins(hoshikage_factory: Any,
                                                     tmp_path: Path) -> None:
    hk = await hoshikage_factory(config(tmp_path), plugins={"echo": EchoBackend()},
                                 load_entry_points=False)
    assert hk.plugins.backend_names() == ["echo"]  # only what was given
    assert (await hk.complete("hello there", model="m")).text == "hello there"
    assert hk.list_models()[0].state is ModelState.READY


async def test_the_factory_closes_what_it_made(tmp_path: Path) -> None:
    echo = EchoBackend()
    factory = _hoshikage_factory()  # what the fixture runs, step by step
    make = await factory.__anext__()
    hk = await make(config(tmp_path), plugins={"echo": echo})
    await hk.complete("hi", model="m")
    assert echo.unloads == []
    await factory.aclose()  # the fixture's teardown
    assert echo.unloads == ["m"]


@pytest.mark.real_model
def test_tiny_gguf_path_is_a_gguf(tiny_gguf_path: Path) -> None:
    from hoshikage_core.kit.gguf import read_gguf_header

    header = read_gguf_header(tiny_gguf_path)
    assert header.architecture == "llama" and header.tensor_count > 10
