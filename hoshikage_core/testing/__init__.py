"""Test helpers for Hoshikage and its plugins (see ``pytest_plugin``)."""

from .tiny_gguf import write_tiny_gguf

__all__ = ["write_tiny_gguf"]
