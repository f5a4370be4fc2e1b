"""Hoshikage core: the plugin contract, config, model manager and HTTP API.

Embed it::

    from hoshikage_core import Hoshikage

    async with Hoshikage("hoshikage.toml") as hk:
        print((await hk.complete("The capital of France is", model="default")).text)

Serve it: ``create_app(Hoshikage(...))`` returns a FastAPI app.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

try:
    __version__ = version("hoshikage")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from .config import HoshikageConfig, load_config  # noqa: E402
from .errors import (  # noqa: E402
    ConfigError,
    ContextLengthExceededError,
    HoshikageError,
    InvalidRequestError,
    MaxTokensTooLargeError,
    ModelNotFoundError,
)
from .hoshikage import Completion, Hoshikage  # noqa: E402
from .kit.options import BackendOptions, parse_options  # noqa: E402
from .kit.text import StopMatcher  # noqa: E402
from .markers import hookimpl  # noqa: E402
from .types import (  # noqa: E402
    ChatMessage,
    Chunk,
    GenerationRequest,
    LoadProgress,
    ModelSpec,
    Usage,
)

if TYPE_CHECKING:
    from .api.app import create_app


def __getattr__(name: str) -> object:
    """``create_app`` is imported on first use: FastAPI is slow to import, and
    ``hoshikage run`` answers /health before it needs it."""
    if name == "create_app":
        from .api import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BackendOptions",
    "ChatMessage",
    "Chunk",
    "Completion",
    "ConfigError",
    "ContextLengthExceededError",
    "GenerationRequest",
    "Hoshikage",
    "HoshikageConfig",
    "HoshikageError",
    "InvalidRequestError",
    "LoadProgress",
    "MaxTokensTooLargeError",
    "ModelNotFoundError",
    "ModelSpec",
    "StopMatcher",
    "Usage",
    "__version__",
    "create_app",
    "hookimpl",
    "load_config",
    "parse_options",
]
