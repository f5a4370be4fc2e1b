"""The HTTP layer: OpenAI-compatible routes over a :class:`Hoshikage`."""

from .app import create_app

__all__ = ["create_app"]
