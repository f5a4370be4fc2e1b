"""Agent-shaped workloads: sessions that come back, edits that copy, long prompts.

Every contender gets the same text through the same door: a legacy completion of a
ChatML prompt (SmolLM2's own template, written out), greedy, streamed. HTTP servers
are driven through the ``openai`` SDK; raw llama-cpp-python is called in-process.
Contenders take turns request by request, the order rotating, so they share the
machine's noise.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import openai

__all__ = ["HttpTarget", "RawTarget", "Reply", "Target", "by_turn", "decode_cost", "edit",
           "long_prompt", "sessions", "system_prompt"]

TOPICS = ["rivers", "bread", "bicycles", "volcanoes", "libraries", "owls", "glass", "tea",
          "bridges", "comets", "maps", "bees", "clocks", "salt", "kites", "moss"]

PARAGRAPHS = [
    "The lighthouse stood at the edge of the cliff for more than two hundred years. Every "
    "night its keeper climbed the narrow stairs, trimmed the wick and polished the great lens, "
    "so that ships passing in the dark would know where the rocks were. When the keeper grew "
    "old, his daughter took over the work, and she kept the light burning through storms, wars "
    "and the long quiet winters when no ship came at all.",
    "The market opened before sunrise, when the farmers drove their carts into the square and "
    "unloaded baskets of apples, onions and bread still warm from the oven. By eight o'clock "
    "the square was full of voices, and the old clock on the town hall struck the hours over "
    "the noise. At noon the stalls closed one by one, and the pigeons came down to look for "
    "what the crowd had left behind.",
    "The expedition left the coast in early spring with six wagons, twelve horses and enough "
    "flour for four months. For the first weeks the road followed the river through green "
    "valleys, but in May it climbed into the mountains, where the nights were cold and the "
    "horses had to be led on foot. They reached the pass at the end of June and saw the plain "
    "on the other side for the first time.",
]
REPLACEMENTS = [("lighthouse", "tower"), ("market", "fair"), ("expedition", "caravan")]


def chatml(messages: Sequence[tuple[str, str]]) -> str:
    """SmolLM2's chat template, written out, ready for the assistant's turn."""
    text = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)
    return text + "<|im_start|>assistant\n"


def system_prompt() -> str:
    """A long system prompt (~800 tokens) all sessions share, as an agent's does."""
    rules = [f"Rule {i}: when the user asks about {TOPICS[i % len(TOPICS)]}, answer in one "
             f"short sentence, name one fact, and never repeat rule {i + 1}." for i in range(30)]
    return "You are a patient assistant for a team of researchers. " + " ".join(rules)


@dataclass(frozen=True)
class Reply:
    ttft: float  # seconds to the first text
    rate: float  # tokens/s after the first
    tokens: int
    text: str


class Target(Protocol):
    name: str

    def complete(self, prompt: str, max_tokens: int) -> Reply: ...


class HttpTarget:
    """A server behind the ``openai`` SDK; token counts from the stream's usage."""

    def __init__(self, name: str, client: openai.OpenAI, model: str) -> None:
        self.name, self._client, self._model = name, client, model

    def complete(self, prompt: str, max_tokens: int) -> Reply:
        started = time.perf_counter()
        first, text, tokens = 0.0, "", 0
        stream = self._client.completions.create(
            model=self._model, prompt=prompt, max_tokens=max_tokens, temperature=0,
            stream=True, stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.choices and chunk.choices[0].text:
                first = first or time.perf_counter()
                text += chunk.choices[0].text
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
        return _reply(started, first, time.perf_counter(), tokens, text)


class RawTarget:
    """llama-cpp-python in-process; ``reset`` empties its KV cache before each call."""

    def __init__(self, name: str, llama: Any, reset: bool) -> None:
        self.name, self._llama, self._reset = name, llama, reset

    def complete(self, prompt: str, max_tokens: int) -> Reply:
        if self._reset:
            self._llama.reset()
        started = time.perf_counter()
        first, text, tokens = 0.0, "", 0
        for chunk in self._llama.create_completion(prompt, max_tokens=max_tokens,
                                                   temperature=0, stream=True):
            tokens += 1
            if chunk["choices"][0]["text"]:
                first = first or time.perf_counter()
                text += chunk["choices"][0]["text"]
        return _reply(started, first, time.perf_counter(), tokens, text)


def _reply(started: float, first: float, end: float, tokens: int, text: str) -> Reply:
    first = first or end
    rate = (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0
    return Reply(first - started, rate, tokens, text)


def _rotated(items: Sequence[Target], by: int) -> list[Target]:
    shift = by % len(items)
    return [*items[shift:], *items[:shift]]


def sessions(targets: Sequence[Target], count: int, turns: int, answer_tokens: int,
             pause: float = 0.1) -> dict[str, list[list[float]]]:
    """``count`` chat sessions sharing a long system prompt, ``turns`` turns each,
    round-robin (turn 1 of every session, then turn 2...), one request at a time.
    Each contender keeps its own histories (its own answers). Returns, per
    contender, the TTFT of every session's turn, by turn."""
    system = system_prompt()
    histories = {t.name: [[("system", system)] for _ in range(count)] for t in targets}
    ttfts: dict[str, list[list[float]]] = {t.name: [[] for _ in range(turns)] for t in targets}
    for turn in range(turns):
        for s in range(count):
            question = (f"Session {s}, turn {turn + 1}: in one sentence, what is special "
                        f"about {TOPICS[(s * 5 + turn) % len(TOPICS)]}?")
            for target in _rotated(targets, s + turn):
                time.sleep(pause)
                history = histories[target.name][s]
                history.append(("user", question))
                reply = target.complete(chatml(history), answer_tokens)
                history.append(("assistant", reply.text.strip()))
                ttfts[target.name][turn].append(reply.ttft)
    return ttfts


def edit_prompt(index: int) -> str:
    paragraph = PARAGRAPHS[index % len(PARAGRAPHS)]
    old, new = REPLACEMENTS[index % len(REPLACEMENTS)]
    return chatml([("user", f"Copy this paragraph exactly, word for word, but replace "
                            f"'{old}' with '{new}'.\n\n{paragraph}")])


def edit(targets: Sequence[Target], rounds: int, max_tokens: int,
         pause: float = 0.5) -> dict[str, list[Reply]]:
    """"Rewrite this text with one change": the answer mostly copies the prompt."""
    replies: dict[str, list[Reply]] = {t.name: [] for t in targets}
    for r in range(rounds):
        for target in _rotated(targets, r):
            time.sleep(pause)
            replies[target.name].append(target.complete(edit_prompt(r), max_tokens))
    return replies


def long_document(round_: int, lines: int) -> str:
    return "\n".join(f"Line {i} of report {round_}: the {TOPICS[(i + round_) % len(TOPICS)]} "
                     f"sample {i * 7 + round_} measured {(i * 37 + round_) % 100} units."
                     for i in range(lines))


def long_prompt(targets: Sequence[Target], rounds: int, lines: int,
                pause: float = 0.5) -> dict[str, list[float]]:
    """A long prompt (a report of ``lines`` lines, new every round, so nothing is
    cached), answered with a few tokens: TTFT measures prompt evaluation."""
    ttfts: dict[str, list[float]] = {t.name: [] for t in targets}
    for r in range(rounds):
        prompt = chatml([("user", long_document(r, lines) + "\n\nSummarize the report.")])
        for target in _rotated(targets, r):
            time.sleep(pause)
            ttfts[target.name].append(target.complete(prompt, 4).ttft)
    return ttfts


def by_turn(ttfts: dict[str, list[list[float]]]) -> dict[str, list[float]]:
    """p50 TTFT of each turn, per contender."""
    return {name: [statistics.median(turn) for turn in turns] for name, turns in ttfts.items()}


def decode_cost(llama: Any, sizes: Sequence[int], repeats: int = 5) -> dict[int, float]:
    """Seconds llama.cpp takes to decode a batch of ``n`` tokens, every row with logits
    (as a speculative draft is checked), after a 200-token prompt: what a draft's rows
    cost on this machine."""
    import llama_cpp

    ctx = llama._ctx.ctx
    batch = llama_cpp.llama_batch_init(max(sizes) + 200, 0, 1)
    memory = llama_cpp.llama_get_memory(ctx)

    def decode(tokens: list[int], start: int) -> float:
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, start + i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, True
        batch.n_tokens = len(tokens)
        began = time.perf_counter()
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        llama_cpp.llama_synchronize(ctx)
        return time.perf_counter() - began

    try:
        llama.reset()
        llama_cpp.llama_memory_clear(memory, True)
        decode(list(range(1000, 1200)), 0)
        costs = {}
        for n in sizes:
            runs = []
            for _ in range(repeats):
                runs.append(decode(list(range(2000, 2000 + n)), 200))
                llama_cpp.llama_memory_seq_rm(memory, 0, 200, -1)
            costs[n] = statistics.median(runs)
        return costs
    finally:
        llama_cpp.llama_memory_clear(memory, True)
        llama.reset()
        llama_cpp.llama_batch_free(batch)
