"""Give freed memory back to the operating system after an unload."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable

__all__ = ["return_memory_to_os"]


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None


def return_memory_to_os() -> None:
    """Collect garbage, then ask glibc to release free heap pages (all arenas).

    Without this, memory a model freed stays in glibc's per-thread arenas and
    the process's resident size does not come back down after an unload.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
