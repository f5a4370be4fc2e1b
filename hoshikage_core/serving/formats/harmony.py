"""OpenAI's harmony format (gpt-oss): an answer is messages on channels.

``<|channel|>analysis<|message|>...<|end|>`` is thinking,
``<|start|>assistant<|channel|>final<|message|>...`` the answer, and
``<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}<|call|>``
a tool call. A template is harmony when it writes those markers; how its history
renders calls differs from how the model writes them, so the format is fixed here
rather than learned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...types import Alt, Constraint, Json, Lit, Opt, Seq
from ..requests import ToolSpec
from .markers import held_suffix

__all__ = ["HARMONY", "HarmonyFormat", "HarmonySplitter", "harmony_constraint", "is_harmony"]

MARKERS = ("<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|call|>", "<|return|>")
_CALL_HEAD = "<|channel|>commentary to=functions."


def is_harmony(template: Any) -> bool:
    source = getattr(template, "source", "")
    return all(m in source for m in ("<|channel|>", "<|message|>", "<|start|>"))


@dataclass(frozen=True)
class HarmonyFormat:
    """What the chat service needs to know of thinking in harmony."""

    def starts_open(self, prompt: str) -> bool:
        return prompt.rstrip().endswith("<|channel|>analysis<|message|>")

    def close_text(self) -> str:
        """Ends the analysis and opens the answer (for a thinking budget)."""
        return "<|end|><|start|>assistant<|channel|>final<|message|>"


HARMONY = HarmonyFormat()


class HarmonySplitter:
    """Splits an answer into ``reasoning``, ``content`` and ``call`` pieces (a call's
    text is ``{"name", "arguments"}`` JSON, once its message is complete)."""

    def __init__(self, *, starts_open: bool = False, after_close: bool = False) -> None:
        """``after_close``: the prompt ends in the final channel (a budget closed the
        analysis for the model)."""
        self._state = "body" if starts_open or after_close else "head"
        self._channel = "analysis" if starts_open else "final" if after_close else ""
        self._recipient = ""
        self._header = ""
        self._held = ""
        self._call = ""
        self._seen_header = starts_open or after_close

    @property
    def thinking(self) -> bool:
        return self._state == "head" or self._channel == "analysis"

    def feed(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buffer = self._held + text
        self._held = ""
        while buffer:
            if self._state == "head":
                head = buffer.lstrip()
                if not self._seen_header and head and not head.startswith("<|") \
                        and not "<|".startswith(head[:2]):
                    self._state, self._channel = "body", "final"  # plain text: an answer
                    self._seen_header = True
                    continue
                at = buffer.find("<|message|>")
                if at < 0:
                    self._held = buffer
                    return out
                self._header += buffer[:at]
                self._start_body(self._header)
                buffer, self._header = buffer[at + len("<|message|>"):], ""
                continue
            ends = [(buffer.find(m), m) for m in ("<|end|>", "<|call|>", "<|return|>",
                                                  "<|start|>") if m in buffer]
            if ends:
                at, marker = min(ends)
                out += self._body(buffer[:at])
                out += self._end_message()
                buffer = buffer[at + (0 if marker == "<|start|>" else len(marker)):]
                continue
            hold = held_suffix(buffer, MARKERS)
            out += self._body(buffer[:len(buffer) - hold])
            self._held = buffer[len(buffer) - hold:]
            return out
        return out

    def _start_body(self, header: str) -> None:
        self._seen_header = True
        self._state = "body"
        channel = re.search(r"<\|channel\|>\s*([a-z]+)", header)
        self._channel = channel.group(1) if channel else "final"
        recipient = re.search(r"to=functions\.([^\s<]+)", header)
        self._recipient = recipient.group(1) if recipient else ""
        self._call = ""

    def _body(self, text: str) -> list[tuple[str, str]]:
        if not text:
            return []
        if self._recipient:
            self._call += text
            return []
        return [("reasoning" if self._channel == "analysis" else "content", text)]

    def _end_message(self) -> list[tuple[str, str]]:
        out = []
        if self._recipient:
            out.append(("call", json.dumps({"name": self._recipient,
                                            "arguments": self._call.strip()})))
        self._state, self._recipient, self._call = "head", "", ""
        return out

    def flush(self) -> list[tuple[str, str]]:
        held, self._held = self._held, ""
        if self._state == "head":
            return [("content", held)] if held.strip() and not self._seen_header else []
        out = self._body(held)
        if self._recipient:
            out += self._end_message()
        return out


def harmony_constraint(tools: Sequence[ToolSpec], *, forced: bool) -> Constraint:
    """Calls as gpt-oss writes them: from the first token, or once it opens one."""
    calls = Alt(tuple(Seq((Lit(t.name), Lit(" <|constrain|>json<|message|>"),
                           Json(dict(t.parameters) or {"type": "object"})))
                      for t in tools))
    root = Seq((Lit(_CALL_HEAD), calls, Opt(Lit("<|call|>"))))
    return Constraint(root, () if forced else (_CALL_HEAD,))
