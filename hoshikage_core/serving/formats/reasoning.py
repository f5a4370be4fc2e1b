"""Thinking, apart from the answer: the markers a template uses, learned from the
template itself, and a splitter that separates a stream into reasoning and content.

A template shows an earlier turn's ``reasoning_content`` as the model writes it
(``<think>...</think>``, ``<seed:think>``, ``[THINK]``, ``<|START_THINKING|>``...):
rendering one turn with known reasoning and content shows the markers around it.
For templates that drop earlier thinking, the common markers they mention are used.
Whether an answer starts inside the block (the generation prompt opened it) is read
off each rendered prompt, since variables such as ``enable_thinking`` change it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...types import ChatMessage
from .markers import held_suffix

__all__ = ["ReasoningFormat", "ReasoningSplitter", "learn_reasoning"]

KNOWN_MARKERS = (("<think>", "</think>"), ("<seed:think>", "</seed:think>"),
                 ("[THINK]", "[/THINK]"), ("<|START_THINKING|>", "<|END_THINKING|>"),
                 ("<mm:think>", "</mm:think>"), ("<think:opensource>", "</think:opensource>"),
                 ("<|channel>thought", "<channel|>"))
_QUESTION, _REASONING, _ANSWER = "hk_q_5e1", "hk_r_5e1", "hk_a_5e1"
_TAG = re.compile(r"(<[^<>\s]+>|\[[A-Z_/]+\]|<\|[^|]+\|>)\s*$")


@dataclass(frozen=True)
class ReasoningFormat:
    """The text that opens a think block and the text that closes it; ``closing`` is
    how the template writes the close between thinking and answer (whitespace too)."""

    open: str
    close: str
    closing: str = ""

    def close_text(self) -> str:
        """What to append to a prompt whose block is open, to answer at once."""
        return self.closing or f"{self.close}\n\n"

    def starts_open(self, prompt: str) -> bool:
        """Whether ``prompt`` ends inside an open block (the answer begins thinking)."""
        if not self.open:
            return False
        opened, closed = prompt.rfind(self.open), prompt.rfind(self.close)
        return opened >= 0 and (closed < 0 or opened >= closed + len(self.close))


def learn_reasoning(template: Any) -> ReasoningFormat | None:
    """The think markers ``template`` (a ``ChatTemplate``) shows, or None if it shows
    no thinking."""
    question = [ChatMessage("user", _QUESTION)]
    try:
        prompt = template.render(question)
        history = template.render(
            [*question, ChatMessage("assistant", _ANSWER, reasoning=_REASONING)],
            add_generation_prompt=False)
    except ValueError:
        return None
    thought, answer = history.find(_REASONING), history.find(_ANSWER)
    if 0 <= thought < answer:
        close = history[thought + len(_REASONING):answer].strip()
        before = history[history.rfind(_QUESTION) + len(_QUESTION):thought]
        prompted = prompt[prompt.rfind(_QUESTION) + len(_QUESTION):]
        if prompted.startswith(before) and prompted != before:
            opening = prompted[len(before):].strip()  # the prompt goes on into the block
        elif before.startswith(prompted):
            opening = before[len(prompted):].strip()  # the model writes the opening
        else:
            found = _TAG.search(before)
            opening = found.group(1) if found else ""
        if not opening:
            found = _TAG.search(before)
            opening = found.group(1) if found else ""
        for known_open, known_close in KNOWN_MARKERS:
            if close.startswith(known_close):  # a well-known block: its own opening
                opening = known_open
        if close:
            return ReasoningFormat(opening, close, history[thought + len(_REASONING):answer])
    source = getattr(template, "source", "")
    for opening, close in KNOWN_MARKERS:
        if opening in source and close in source:
            return ReasoningFormat(opening, close)
    return None


class ReasoningSplitter:
    """Splits one answer's text, piece by piece, into ``("reasoning", text)`` and
    ``("content", text)``. Thinking is what comes first, inside the markers (or from
    the start, when the prompt opened the block); a block never closed is all
    thinking. No piece of a marker is ever released."""

    def __init__(self, fmt: ReasoningFormat, *, starts_open: bool) -> None:
        self._fmt = fmt
        self._state = "reasoning" if starts_open else "start"
        self._held = ""
        self._after_close = False

    @property
    def thinking(self) -> bool:
        return self._state in ("reasoning", "start")

    def feed(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buffer = self._held + text
        self._held = ""
        while buffer:
            if self._state == "start":
                head = buffer.lstrip()
                if head.startswith(self._fmt.open) and self._fmt.open:
                    buffer = head[len(self._fmt.open):]
                    self._state = "reasoning"
                    continue
                if not head or (self._fmt.open and self._fmt.open.startswith(head)):
                    self._held = buffer
                    return out
                self._state = "content"
                continue
            if self._state == "reasoning":
                cut = buffer.find(self._fmt.close)
                if cut >= 0:
                    out.append(("reasoning", buffer[:cut]))
                    buffer = buffer[cut + len(self._fmt.close):]
                    self._state, self._after_close = "content", True
                    continue
                hold = held_suffix(buffer, [self._fmt.close])
                out.append(("reasoning", buffer[:len(buffer) - hold]))
                self._held = buffer[len(buffer) - hold:]
                return [o for o in out if o[1]]
            if self._after_close:  # the answer starts after the blank line or two
                buffer = buffer.lstrip("\n")
                if not buffer:
                    return [o for o in out if o[1]]
                self._after_close = False
            out.append(("content", buffer))
            buffer = ""
        return [o for o in out if o[1]]

    def flush(self) -> list[tuple[str, str]]:
        """What was held back, once the answer is over."""
        held, self._held = self._held, ""
        if not held:
            return []
        kind = "reasoning" if self._state == "reasoning" else "content"
        return [(kind, held)]
