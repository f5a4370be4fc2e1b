"""`hoshikage run` answers /health before the API is built; other requests wait."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from hoshikage_core import Hoshikage
from hoshikage_core.api.fast_start import FastStartApp
from tests.fakes import EchoBackend


async def test_health_first_then_the_real_app(tmp_path: Path) -> None:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    hk = Hoshikage({"models": {"echo": {"backend": "echo", "path": str(model_file)}}},
                   plugins={"echo": EchoBackend()})
    gate = threading.Event()

    def build() -> Any:
        gate.wait(timeout=60)  # the API is still being built
        from hoshikage_core import create_app

        return create_app(hk)

    app = FastStartApp(build, hk)
    lifespan_in: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    lifespan_out: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    lifespan = asyncio.ensure_future(app({"type": "lifespan"}, lifespan_in.get,
                                         lifespan_out.put))
    await lifespan_in.put({"type": "lifespan.startup"})
    assert (await lifespan_out.get())["type"] == "lifespan.startup.complete"

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        models = asyncio.ensure_future(client.get("/v1/models"))
        await asyncio.sleep(0.05)
        assert not models.done()  # waits for the API, is not refused
        gate.set()
        assert (await asyncio.wait_for(models, 60)).json()["data"][0]["id"] == "echo"
        assert (await client.get("/health")).json()["models"]["configured"] == 1

    await lifespan_in.put({"type": "lifespan.shutdown"})
    assert (await lifespan_out.get())["type"] == "lifespan.shutdown.complete"
    await lifespan


def test_importing_the_core_does_not_import_fastapi_or_llama_cpp() -> None:
    import subprocess

    code = ("import sys, hoshikage_core, hoshikage_core.cli, hoshikage_core.api.fast_start\n"
            "from hoshikage_core.plugin_loading import create_plugin_manager\n"
            "create_plugin_manager()\n"
            "print('fastapi' in sys.modules, 'llama_cpp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr
