"""The dialect tests' server (Anthropic, Responses, rerank): the bundled SmolLM2, tiny
models carrying a real tool-call template and a thinking template, a tiny reranker
(rank pooling), and a model whose load waits for the test (to see a stream keep its
client waiting)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hoshikage_core.testing.tiny_gguf import write_tiny_gguf
from tests.conftest import REPO, SMOLLM2, RunningServer, start_server, stop_server
from tests.serving.families import FAMILIES
from tests.serving.test_reasoning import OPENS_THINK


@pytest.fixture(scope="session")
def dialect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("dialects")
    hermes = write_tiny_gguf(folder / "hermes.gguf", context_length=4096,
                             chat_template=FAMILIES["hermes"])
    thinker = write_tiny_gguf(folder / "thinker.gguf", context_length=4096,
                              chat_template=OPENS_THINK)
    ranker = write_tiny_gguf(folder / "ranker.gguf", rank=True)
    (folder / "cold.bin").write_text("a model whose load waits for cold.bin.go")
    config = folder / "dialects.toml"
    config.write_text(f"""
[server]
stream_ping = "50ms"
responses_store = 4
[plugins]
dir = "{REPO / 'tests' / 'e2e' / 'plugins'}"
[defaults]
max_loaded_models = 4
[models.smollm2]
path = "{SMOLLM2}"
aliases = ["default"]
[models.smollm2.options]
n_ctx = 2048
[models.hermes]
path = "{hermes}"
[models.hermes.options]
n_ctx = 4096
[models.thinker]
path = "{thinker}"
[models.thinker.options]
n_ctx = 4096
[models.ranker]
path = "{ranker}"
[models.cold]
backend = "gated"
path = "{folder / 'cold.bin'}"
""")
    server = start_server(config, folder / "dialects.log")
    yield server
    stop_server(server)


def open_gate(server_folder: Path) -> None:
    (server_folder / "cold.bin.go").write_text("go")
