"""Comparing renders of markup without cutting a tag in two.

Where two renders of a template agree, and where they part, says which text is a
call's open, close or separator; the cut must not fall inside ``<...>`` or
``[UPPER]`` tags, so every comparison here moves to the nearest tag boundary.
"""

from __future__ import annotations

import re

__all__ = ["common_prefix", "common_prefix_text", "common_suffix_text", "tag_back",
           "tag_forward"]


def common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def tag_back(text: str, i: int) -> int:
    """``i``, or the start of the markup tag (``<...>``, ``[UPPER]``) it falls inside."""
    opened = text.rfind("<", 0, i)
    if opened >= 0 and ">" not in text[opened:i]:
        return opened
    bracket = text.rfind("[", 0, i)
    if bracket >= 0 and re.fullmatch(r"\[[A-Z_]*", text[bracket:i]) and \
            re.match(r"[A-Z_]*\]", text[i:]):
        return bracket
    return i


def tag_forward(text: str, i: int) -> int:
    """``i``, or the end of the markup tag it falls inside."""
    start = tag_back(text, i)
    if start == i:
        return i
    closing = ">" if text[start] == "<" else "]"
    return text.find(closing, i) + 1


def common_prefix_text(a: str, b: str) -> str:
    """The longest common start of ``a`` and ``b``, not ending inside a tag of ``a``."""
    return a[:tag_back(a, common_prefix(a, b))]


def common_suffix_text(a: str, b: str) -> str:
    """The longest common end of ``a`` and ``b``, not starting inside a tag of ``a``."""
    n = 0
    while n < min(len(a), len(b)) and a[len(a) - 1 - n] == b[len(b) - 1 - n]:
        n += 1
    return a[tag_forward(a, len(a) - n):] if n else ""
