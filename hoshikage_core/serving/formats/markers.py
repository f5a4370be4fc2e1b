"""Finding markers in streamed text without ever releasing part of one."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["held_suffix"]


def held_suffix(text: str, markers: Iterable[str]) -> int:
    """Length of the longest end of ``text`` that begins one of ``markers`` (text that
    must wait for the next piece before it is known not to be a marker)."""
    best = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best
