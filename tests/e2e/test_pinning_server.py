"""Pinning on a real server with generated tiny GGUFs: a pinned model keeps its place,
a model that cannot fit beside it is refused naming it (through the openai SDK), and
``hoshikage unpin`` / ``pin`` change that while the server runs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import openai
import pytest

from hoshikage_core.testing.server import (
    RunningServer,
    hoshikage_command,
    start_server,
    stop_server,
)
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("pinning")
    one, two = (write_tiny_gguf(folder / f"m{i}.gguf", seed=i) for i in (1, 2))
    config = folder / "hoshikage.toml"
    config.write_text(f'[defaults]\nmax_loaded_models = 1\n'
                      f'[models.kept]\npath = "{one}"\npinned = true\n'
                      f'[models.other]\npath = "{two}"\n')
    running = start_server(config, folder / "server.log")
    yield running
    stop_server(running)


def cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hoshikage_command(*args, "--url", server.url), capture_output=True,
                          text=True, timeout=120)


def test_pin_refuse_unpin_and_pin_again(server: RunningServer) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    assert client.completions.create(model="kept", prompt="a", max_tokens=2).usage
    with pytest.raises(openai.APIStatusError) as refused:
        client.completions.create(model="other", prompt="a", max_tokens=2)
    assert refused.value.status_code == 503 and refused.value.code == "pinned_models_in_the_way"
    assert "pinned models 'kept'" in refused.value.message
    unpinned = cli(server, "unpin", "kept")
    assert unpinned.returncode == 0 and "kept: ready, not pinned" in unpinned.stdout
    assert client.completions.create(model="other", prompt="a", max_tokens=2).usage
    status = {m["id"]: m for m in httpx.get(f"{server.url}/admin/models").json()["data"]}
    assert status["kept"]["state"] == "unloaded" and status["other"]["state"] == "ready"
    pinned = cli(server, "pin", "other")
    assert pinned.returncode == 0 and "other: ready, pinned" in pinned.stdout
    assert httpx.get(f"{server.url}/admin/models/other").json()["pinned"] is True
    missing = cli(server, "pin", "no-such-model")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
