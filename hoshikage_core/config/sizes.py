"""Byte sizes as written in config files: ``"6GiB"``, ``"512MiB"``, ``"2GB"``, ``1048576``."""

from __future__ import annotations

import re

__all__ = ["format_bytes", "parse_size"]

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_size(value: object) -> int:
    """Bytes as an int. Accepts an integer or ``"<number><unit>"`` (KiB, MiB, GiB, GB…)."""
    if isinstance(value, bool):
        raise ValueError(_expected(value))
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str):
        match = _SIZE.match(value.lower())
        if match and match.group(2) in _UNITS:
            size = int(float(match.group(1)) * _UNITS[match.group(2)])
            if size > 0:
                return size
    raise ValueError(_expected(value))


def _expected(value: object) -> str:
    return f'expected a size such as "6GiB", "512MiB", "8GB" or a number of bytes; got {value!r}'


def format_bytes(size: float | None) -> str:
    """``1536 * 2**20`` → ``"1.5 GiB"``."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
