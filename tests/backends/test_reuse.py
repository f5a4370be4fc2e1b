"""Prompt reuse on SmolLM2: the host-memory cache, cells copied from a live slot, and
speculative decoding that leaves the output as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from hoshikage_backends.llamacpp.model import LlamaCppModel
from hoshikage_backends.llamacpp.options import LlamaCppOptions
from hoshikage_core import ChatMessage, Chunk, GenerationRequest, ModelSpec, Usage
from tests.backends.streams import assert_same_greedy, collect

pytestmark = pytest.mark.real_model

SYSTEM = "You are a careful assistant. " + " ".join(
    f"Rule {i}: answer briefly and check every fact twice." for i in range(12))
PARAGRAPH = (
    "The lighthouse stood at the edge of the cliff for more than two hundred years. Every "
    "night its keeper climbed the narrow stairs, trimmed the wick and polished the great "
    "lens, so that ships passing in the dark would know where the rocks were. When the "
    "keeper grew old, his daughter took over the work, and she kept the light burning.")
COPY = ("Copy this paragraph exactly, word for word, but replace 'lighthouse' with "
        f"'tower'.\n\n{PARAGRAPH}")


def model(path: Path, parallel: int, **options: object) -> LlamaCppModel:
    return LlamaCppModel(ModelSpec("m", path, parallel=parallel),
                         LlamaCppOptions(n_ctx=1024, **options))  # type: ignore[arg-type]


def session(name: str, answers: list[str] = []) -> list[ChatMessage]:  # noqa: B006
    """A chat's next turn: the system prompt, then a question per answer so far (the
    model's own answers, as a client sends them back), then a new question."""
    messages = [ChatMessage(role="system", content=SYSTEM)]
    for turn, answer in enumerate([*answers, None]):
        messages.append(ChatMessage(role="user", content=f"{name}, question {turn}: a fruit?"))
        if answer is not None:
            messages.append(ChatMessage(role="assistant", content=answer))
    return messages


def ask(m: LlamaCppModel, messages: list[ChatMessage], **fields: object) -> tuple[str, Usage]:
    chunks = collect(m, GenerationRequest(model="m", messages=messages, **{  # type: ignore[arg-type]
        "max_tokens": 12, "temperature": 0, **fields}))
    usage = chunks[-1].usage
    assert usage is not None
    return "".join(c.text for c in chunks), usage


@pytest.fixture(scope="module")
def cached(bundled_model_path: Path) -> Iterator[LlamaCppModel]:
    """One slot, so every other session evicts the last; the host cache keeps it."""
    m = model(bundled_model_path, 1, speculation="off")
    yield m
    m.close()


@pytest.fixture(scope="module")
def roomy(bundled_model_path: Path) -> Iterator[LlamaCppModel]:
    """A slot per session: nothing is evicted, each session finds its own cells."""
    m = model(bundled_model_path, 2, speculation="off", prompt_cache=0)
    yield m
    m.close()


def test_an_evicted_session_is_restored_from_host_memory(cached: LlamaCppModel,
                                                         roomy: LlamaCppModel) -> None:
    reuse = cached.engine.reuse
    restored_before = reuse.counts.restored
    first, first_usage = ask(cached, session("Ann"))
    ask(cached, session("Bob"))  # takes the only slot: Ann's cells go to host memory
    assert reuse.host is not None and len(reuse.host) >= 1
    text, usage = ask(cached, session("Ann", [first]))
    assert usage.cached_tokens >= first_usage.prompt_tokens  # all of turn 1, not just the system
    assert reuse.counts.restored - restored_before == usage.cached_tokens
    # the same turns where nothing was evicted: the restored cells are the same cells
    assert ask(roomy, session("Ann"))[0] == first
    ask(roomy, session("Bob"))
    roomy_text, roomy_usage = ask(roomy, session("Ann", [first]))
    assert (text, usage.cached_tokens) == (roomy_text, roomy_usage.cached_tokens)


def test_without_a_host_cache_the_session_is_evaluated_again(roomy: LlamaCppModel,
                                                             bundled_model_path: Path) -> None:
    single = model(bundled_model_path, 1, speculation="off", prompt_cache=0)
    try:
        first, _ = ask(single, session("Cy"))
        ask(single, session("Di"))
        _, usage = ask(single, session("Cy", [first]))
        assert single.engine.reuse.counts.restored == 0
        ask(roomy, session("Cy"))
        _, roomy_usage = ask(roomy, session("Cy", [first]))  # its own slot: more was cached
        assert usage.cached_tokens < roomy_usage.cached_tokens
    finally:
        single.close()


def test_the_host_cache_stays_within_its_bytes(bundled_model_path: Path) -> None:
    one_session = model(bundled_model_path, 1, speculation="off")
    try:
        ask(one_session, session("Eve"))
        ask(one_session, session("Fay"))
        host = one_session.engine.reuse.host
        assert host is not None and len(host) == 1
        size = host.bytes
    finally:
        one_session.close()
    small = model(bundled_model_path, 1, speculation="off", prompt_cache=int(size * 2.5))
    try:
        for name in ("Gil", "Hal", "Ivy", "Jo", "Kim"):
            ask(small, session(name))
            host = small.engine.reuse.host
            assert host is not None and host.bytes <= host.capacity
        assert len(host) == 2  # LRU: the oldest went
        gil = small.tokenize(small._format_chat(session("Gil")), add_special=False)
        assert host.best(gil)[1] < len(gil)  # the oldest, Gil's, is gone
    finally:
        small.close()
    tiny = model(bundled_model_path, 1, speculation="off", prompt_cache=size // 2)
    try:
        ask(tiny, session("Lu"))
        ask(tiny, session("Mo"))
        host = tiny.engine.reuse.host
        assert host is not None and len(host) == 0 and host.bytes == 0  # never over
    finally:
        tiny.close()


def test_a_prefix_another_slot_is_using_is_copied(bundled_model_path: Path) -> None:
    two = model(bundled_model_path, 2, speculation="off", prompt_cache=0)
    reference = model(bundled_model_path, 1, speculation="off", prompt_cache=0)
    try:
        long_story = session("Nia")
        asked = session("Oz")

        async def together() -> tuple[list[Chunk], list[Chunk]]:
            first = two.generate(GenerationRequest(model="m", messages=long_story,
                                                   max_tokens=200, temperature=0))
            started = await anext(first)  # Nia's prompt is in a slot, still generating
            second = [c async for c in two.generate(GenerationRequest(
                model="m", messages=asked, max_tokens=12, temperature=0))]
            rest = [started, *[c async for c in first]]
            return rest, second

        _, second = asyncio.run(together())
        usage = second[-1].usage
        assert usage is not None
        assert two.engine.reuse.counts.copied == usage.cached_tokens > 100
        # the same cells computed in one slot, one request after the other
        collect(reference, GenerationRequest(model="m", messages=long_story, max_tokens=1,
                                             temperature=0))
        expected, expected_usage = ask(reference, asked)
        assert "".join(c.text for c in second) == expected
        assert usage.cached_tokens == expected_usage.cached_tokens
    finally:
        two.close()
        reference.close()


@pytest.fixture(scope="module")
def plain(bundled_model_path: Path) -> Iterator[LlamaCppModel]:
    m = model(bundled_model_path, 3, speculation="off", prompt_cache=0)
    yield m
    m.close()


@pytest.fixture(scope="module")
def drafting(bundled_model_path: Path) -> Iterator[LlamaCppModel]:
    """Drafts whenever the n-grams offer one, paying or not: every path is taken."""
    m = model(bundled_model_path, 3, prompt_cache=0, draft_min=3)
    yield m
    m.close()


@pytest.mark.parametrize("fields", [
    {"max_tokens": 120},
    {"max_tokens": 37},  # ends inside a draft
    {"max_tokens": 120, "stop": ["the great"]},  # a stop sequence inside a draft
    {"max_tokens": 60, "logprobs": 2},
])
def test_greedy_output_is_the_same_with_speculation(plain: LlamaCppModel,
                                                    drafting: LlamaCppModel,
                                                    fields: dict[str, object]) -> None:
    messages = [ChatMessage(role="user", content=COPY)]
    request = GenerationRequest(model="m", messages=messages, temperature=0, **fields)  # type: ignore[arg-type]
    without = collect(plain, request)
    with_drafts = collect(drafting, request)
    assert [c.text for c in with_drafts] == [c.text for c in without]
    assert with_drafts[-1].finish_reason == without[-1].finish_reason
    if "logprobs" in fields:
        for a, b in zip(with_drafts, without):
            assert [t.token for t in a.logprobs] == [t.token for t in b.logprobs]
            # a row computed in a batch of several rounds a little differently
            assert all(abs(x.logprob - y.logprob) < 0.1 for x, y in zip(a.logprobs, b.logprobs))
    usage = with_drafts[-1].usage
    assert usage is not None and usage.accepted_draft_tokens > 0  # drafts were used
    assert usage.completion_tokens == without[-1].usage.completion_tokens  # type: ignore[union-attr]


def test_greedy_streams_decoded_together_keep_their_output(plain: LlamaCppModel,
                                                           drafting: LlamaCppModel) -> None:
    """Streams decoded together: drafts change which rows share a batch (and rounding
    with it, as continuous batching without drafts does)."""
    prompts = [COPY, "Count from 1 to 30, separated by commas.", "Name three colours."]

    def run(m: LlamaCppModel) -> list[list[Chunk]]:
        async def main() -> list[list[Chunk]]:
            async def one(text: str) -> list[Chunk]:
                return [c async for c in m.generate(GenerationRequest(
                    model="m", messages=[ChatMessage(role="user", content=text)],
                    max_tokens=80, temperature=0, logprobs=4))]
            return list(await asyncio.gather(*(one(p) for p in prompts)))
        return asyncio.run(main())

    for a, b in zip(run(drafting), run(plain)):
        assert_same_greedy(a, b)


def test_sampled_output_keeps_its_distribution(plain: LlamaCppModel,
                                                drafting: LlamaCppModel) -> None:
    """At temperature 1 some drafts are rejected; taken on trust they would be written
    every time. With the same seeds, the engine writes what it writes without drafts
    (the rule itself is proved on a known distribution in test_speculation.py)."""
    prompt = PARAGRAPH + " " + PARAGRAPH[:120]
    copy = PARAGRAPH[120:].strip()

    def continuations(m: LlamaCppModel) -> tuple[list[str], int, int]:
        texts, drafted, accepted = [], 0, 0
        for seed in range(40):
            chunks = collect(m, GenerationRequest(model="m", prompt=prompt, max_tokens=6,
                                                  temperature=1.0, seed=seed))
            texts.append("".join(c.text for c in chunks))
            usage = chunks[-1].usage
            assert usage is not None
            drafted, accepted = drafted + usage.draft_tokens, accepted + usage.accepted_draft_tokens
        return texts, drafted, accepted

    without, _, _ = continuations(plain)
    with_drafts, drafted, accepted = continuations(drafting)
    assert drafted > accepted > 0  # drafts were checked, and some were rejected
    assert sum(not copy.startswith(text.strip()) for text in with_drafts) >= 3
    # the same draws; a seed or two may differ where a batch's rounding tips a choice
    assert sum(a == b for a, b in zip(with_drafts, without)) >= 36
    assert drafting.engine.cost.curve(1) is not None


def test_a_draft_model_leaves_greedy_output_unchanged(plain: LlamaCppModel,
                                                      bundled_model_path: Path) -> None:
    """SmolLM2 drafting for itself (the only real model here): its drafts are nearly
    always right, which exercises the draft model's path without changing a token."""
    draft = ModelSpec("d", bundled_model_path, LlamaCppOptions(n_ctx=1024, n_threads=1))
    with_model = LlamaCppModel(ModelSpec("m", bundled_model_path, parallel=3, draft=draft),
                               LlamaCppOptions(n_ctx=1024, prompt_cache=0, draft_min=4))
    try:
        assert with_model.engine.draft_model is not None
        for fields in ({"messages": [ChatMessage(role="user", content=COPY)], "max_tokens": 50},
                       {"prompt": "Once upon a time", "max_tokens": 31, "stop": ["king"]},
                       {"messages": [ChatMessage(role="user", content="Name three colours.")],
                        "max_tokens": 40}):
            request = GenerationRequest(model="m", temperature=0, logprobs=4, **fields)  # type: ignore[arg-type]
            got = collect(with_model, request)
            assert_same_greedy(got, collect(plain, request))
            usage = got[-1].usage
            assert usage is not None and usage.draft_tokens > 0
            assert usage.accepted_draft_tokens >= 0.8 * usage.draft_tokens
    finally:
        with_model.close()


def test_a_draft_model_needs_the_same_vocabulary(bundled_model_path: Path,
                                                 tiny_gguf_path: Path) -> None:
    draft = ModelSpec("noise", tiny_gguf_path, LlamaCppOptions(n_ctx=256))
    with pytest.raises(ValueError, match="draft_model 'noise' cannot draft for 'm': its "
                                         "vocabulary differs"):
        LlamaCppModel(ModelSpec("m", bundled_model_path, draft=draft),
                      LlamaCppOptions(n_ctx=256))
