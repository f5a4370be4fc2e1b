"""A real Hoshikage server on loopback to be the upstream (the tiny generated model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hoshikage_core.testing.server import RunningServer, free_port, start_server, stop_server
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf


@pytest.fixture(scope="session")
def upstream_server(tmp_path_factory: pytest.TempPathFactory,
                    tiny_gguf_path: Path) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("upstream")
    config = folder / "upstream.toml"
    ranker = write_tiny_gguf(folder / "ranker.gguf", rank=True)
    config.write_text(f'[models.tiny]\npath = "{tiny_gguf_path}"\naliases = ["default"]\n'
                      f'[models.tiny.options]\nn_ctx = 256\n'
                      f'[models.ranker]\npath = "{ranker}"\n')
    server = start_server(config, folder / "upstream.log")
    yield server
    stop_server(server)


@pytest.fixture
def dead_url() -> str:
    """A loopback port nobody listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}/v1"
