"""Discovery and live reload through a real ``hoshikage run``: a GGUF dropped into a
watched folder is served at once; a reload under load keeps streams in flight whole,
leaves unchanged models loaded, reloads changed ones and drains removed ones; an
invalid edit is refused and the old config keeps serving; SIGHUP reloads too."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from hoshikage_core.testing.server import (
    RunningServer,
    hoshikage_command,
    start_server,
    stop_server,
    wait_for,
)
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf
from tests.conftest import SMOLLM2

pytestmark = pytest.mark.real_model

COUNTING = "1, 2, 3, 4, 5, 6,"  # greedy SmolLM2 keeps counting: a long, steady stream


class Setup:
    """The server's folder: its config (rewritten by the tests) and model files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "hoshikage.toml"
        self.models = folder / "models"
        self.models.mkdir()
        write_tiny_gguf(self.models / "tiny-found.gguf", seed=1)
        self.spare = write_tiny_gguf(folder / "spare.gguf", seed=2)

    def write(self, models: str, *, watch: bool = True) -> None:
        self.config.write_text(
            f'[defaults]\nidle_timeout = -1\nmax_loaded_models = 6\n'
            f'[reload]\nwatch = {str(watch).lower()}\ninterval = "0.2s"\n'
            f'[discovery]\ndirs = ["models"]\n{models}')

    def chat_models(self, *names: str) -> str:
        return "".join(f'[models.{n}]\npath = "{SMOLLM2}"\n' for n in names)

    def spare_model(self, name: str = "spare", n_ctx: int = 512) -> str:
        return f'[models.{name}]\npath = "{self.spare}"\noptions = {{ n_ctx = {n_ctx} }}\n'


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("reload"))


@pytest.fixture(scope="module")
def server(setup: Setup) -> Iterator[RunningServer]:
    setup.write(setup.chat_models("chat", "leaving") + setup.spare_model())
    running = start_server(setup.config, setup.folder / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)


def served(server: RunningServer) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in httpx.get(f"{server.url}/v1/models").json()["data"]}


def admin(server: RunningServer) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in httpx.get(f"{server.url}/admin/models").json()["data"]}


def loads(server: RunningServer, model: str) -> int:
    text = httpx.get(f"{server.url}/metrics").text
    match = re.search(rf'hoshikage_model_loads_total{{model="{re.escape(model)}",'
                      rf'result="ok"}} (\S+)', text)
    return int(float(match.group(1))) if match else 0


def cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hoshikage_command(*args, "--url", server.url), capture_output=True,
                          text=True, timeout=120)


def test_a_gguf_dropped_into_the_folder_is_served_at_once(
        server: RunningServer, setup: Setup, client: openai.OpenAI) -> None:
    assert served(server)["tiny-found"]["origin"]["kind"] == "dir"
    (setup.models / "half-copied.gguf").write_bytes(b"")  # not a GGUF (yet): reported
    write_tiny_gguf(setup.models / "Dropped In.gguf", seed=3)
    wait_for(lambda: "Dropped-In" in served(server))
    answer = client.completions.create(model="Dropped-In", prompt="a", max_tokens=3)
    assert answer.model == "Dropped-In" and answer.usage.completion_tokens > 0
    origin = served(server)["Dropped-In"]["origin"]
    assert origin == {"kind": "dir", "root": str(setup.models), "parts": 1, "mmproj": None}
    ps = cli(server, "ps")
    assert ps.returncode == 0 and re.search(r"Dropped-In .* dir ", ps.stdout), ps.stdout
    assert (f"note: {setup.models / 'half-copied.gguf'} is not served: not a GGUF file"
            in ps.stdout), ps.stdout
    (setup.models / "half-copied.gguf").unlink()


def test_a_reload_under_load(server: RunningServer, setup: Setup,
                             client: openai.OpenAI) -> None:
    setup.write(setup.chat_models("chat", "leaving") + setup.spare_model(), watch=False)
    assert cli(server, "reload").returncode == 0  # here, not the watcher, reloads from now on
    for model in ("chat", "spare"):
        client.completions.create(model=model, prompt="a", max_tokens=2)
    chat_loads, spare_loads = loads(server, "chat"), loads(server, "spare")
    streams = [client.completions.create(model=m, prompt=COUNTING, max_tokens=120,
                                         temperature=0, stream=True)
               for m in ("chat", "leaving")]
    firsts = [next(iter(stream)) for stream in streams]  # both are generating now
    setup.write(setup.chat_models("chat") + setup.spare_model(n_ctx=256)
                + setup.spare_model("newcomer"), watch=False)
    reloaded = cli(server, "reload")
    assert reloaded.returncode == 0, reloaded.stderr
    for line in ("added: newcomer", "removed: leaving", "reloaded: spare"):
        assert line in reloaded.stdout, reloaded.stdout
    with pytest.raises(openai.NotFoundError):  # unknown to new requests at once
        client.completions.create(model="leaving", prompt="a", max_tokens=2)
    assert client.completions.create(model="newcomer", prompt="a", max_tokens=2).usage
    for first, stream in zip(firsts, streams):
        chunks = [first, *stream]  # the streams in flight run to their end
        assert chunks[-1].choices[0].finish_reason == "length"
        text = "".join(c.choices[0].text for c in chunks)
        assert text.startswith(" 7, 8, 9,"), text
    wait_for(lambda: "leaving" not in admin(server))  # drained, unloaded, gone
    assert client.completions.create(model="spare", prompt="a", max_tokens=2).usage
    assert loads(server, "spare") == spare_loads + 1  # reloaded with its new n_ctx
    assert loads(server, "chat") == chat_loads and admin(server)["chat"]["state"] == "ready"


def test_an_invalid_edit_is_refused_and_the_old_config_serves(
        server: RunningServer, setup: Setup, client: openai.OpenAI) -> None:
    before = set(served(server))
    setup.write(setup.chat_models("chat") + '[models.broken]\npath = "missing.gguf"\n'
                'parallel = "two"\n', watch=False)
    refused = cli(server, "reload")
    assert refused.returncode == 1
    assert str(setup.config) in refused.stderr and "models.broken.parallel" in refused.stderr
    response = httpx.post(f"{server.url}/admin/reload")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_config" and "models.broken.path" in error["message"]
    assert set(served(server)) == before
    assert client.completions.create(model="chat", prompt="a", max_tokens=2).usage
    assert "the config was not reloaded; still serving the one before" in server.log()


def test_sighup_reloads(server: RunningServer, setup: Setup) -> None:
    setup.write(setup.chat_models("chat") + setup.spare_model() + setup.spare_model("hup"),
                watch=False)
    server.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "hup" in served(server))
    assert "SIGHUP: reloaded config: 1 added (hup)" in server.log()  # not the watcher


def test_the_models_folder_example(tmp_path: Path) -> None:
    """examples/models-folder.toml as its comments say: copy a GGUF in, use it."""
    from tests.conftest import REPO

    (tmp_path / "models").mkdir()
    config = tmp_path / "models-folder.toml"
    config.write_text((REPO / "examples" / "models-folder.toml").read_text())
    running = start_server(config, tmp_path / "server.log")
    try:
        assert set(served(running)) == {"smollm2"}
        write_tiny_gguf(tmp_path / "models" / "qwen2.5-0.5b-instruct-q4_k_m.gguf")
        wait_for(lambda: "qwen2.5-0.5b-instruct-q4_k_m" in served(running))
        client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0)
        answer = client.chat.completions.create(  # by the alias its override gives it
            model="qwen", messages=[{"role": "user", "content": "hi"}], max_tokens=3)
        assert answer.model == "qwen2.5-0.5b-instruct-q4_k_m"
        assert served(running)["smollm2"]["state"] == "unloaded"  # nothing else was touched
    finally:
        stop_server(running)
