"""Durations as written in config files and requests: ``"5m"``, ``"30s"``, ``-1``, ``0``."""

from __future__ import annotations

import math
import re

__all__ = ["FOREVER", "format_duration", "parse_duration"]

FOREVER = math.inf

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: object) -> float:
    """Seconds as a float; ``FOREVER`` (infinity) for ``-1`` or ``"-1"``.

    Accepts a number of seconds (``0``, ``90``, ``-1``) or a string of
    number-unit parts with units ms, s, m, h, d (``"5m"``, ``"1h30m"``,
    ``"250ms"``). Raises ``ValueError`` with what was expected.
    """
    if isinstance(value, bool):
        raise ValueError(_expected(value))
    if isinstance(value, (int, float)):
        return _from_number(float(value), value)
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            return _from_number(float(text), value)
        except ValueError:
            pass
        pos, total = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return total
    raise ValueError(_expected(value))


def _from_number(seconds: float, original: object) -> float:
    if seconds == -1:
        return FOREVER
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(_expected(original))
    return seconds


def _expected(value: object) -> str:
    return (
        f"expected a duration such as \"5m\", \"30s\", \"1h30m\", a number of seconds, "
        f"0 (immediately) or -1 (forever); got {value!r}"
    )


def format_duration(seconds: float) -> str:
    """The inverse of :func:`parse_duration`, for display."""
    if seconds == FOREVER:
        return "forever"
    if seconds < 1:
        return f"{seconds * 1000:g}ms" if seconds else "0s"
    out, rest = [], int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)
