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
        # a request before the API exists: driven by hand, so the test knows when it
        # reached the app; nothing but the build can make it answer
        sent: list[dict[str, Any]] = []
        scope = {"type": "http", "method": "GET", "path": "/v1/models", "raw_path":
                 b"/v1/models", "query_string": b"", "headers": [], "http_version": "1.1",
                 "scheme": "http", "server": ("t", 80), "client": ("c", 1), "root_path": ""}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        models = asyncio.ensure_future(app(scope, receive, send))
        assert (await client.get("/health")).status_code == 200  # meanwhile, health answers
        assert not models.done() and sent == []  # it waits for the API, is not refused
        gate.set()
        await asyncio.wait_for(models, 60)
        assert sent[0]["status"] == 200
        body = b"".join(m.get("body", b"") for m in sent[1:])
        assert b'"id":"echo"' in body.replace(b" ", b"")
        assert (await client.get("/health")).json()["models"]["configured"] == 1

    await lifespan_in.put({"type": "lifespan.shutdown"})
    assert (await lifespan_out.get())["type"] == "lifespan.shutdown.complete"
    await lifespan


def test_importing_the_core_does_not_import_fastapi_or_llama_cpp() -> None:
    import subprocess

    code = ("import sys, hoshikage_core, hoshikage_core.cli, hoshikage_core.api.fast_start\n"
            "from hoshikage_core.plugins.discovery import create_plugin_manager\n"
            "create_plugin_manager()\n"
            "print('fastapi' in sys.modules, 'llama_cpp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr
