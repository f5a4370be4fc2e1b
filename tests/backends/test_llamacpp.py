"""The llamacpp backend on real GGUF files through real llama-cpp-python."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.raw_llama import raw_llama
from hoshikage_backends.llamacpp.model import LlamaCppModel
from hoshikage_backends.llamacpp.options import LlamaCppOptions
from hoshikage_core import ChatMessage, Chunk, GenerationRequest, ModelSpec
from hoshikage_core.errors import ContextLengthExceededError, InvalidRequestError
from hoshikage_core.kit.options import OptionsError, parse_options
from tests.backends.streams import collect

pytestmark = pytest.mark.real_model

FRANCE = [ChatMessage("user", "What is the capital of France? Answer in one word.")]


@pytest.fixture(scope="session")
def smollm2(bundled_model_path: Path) -> Iterator[LlamaCppModel]:
    """SmolLM2 loaded once for this module's tests."""
    model = LlamaCppModel(ModelSpec("smollm2", bundled_model_path),
                          LlamaCppOptions(n_ctx=1024))
    yield model
    model.close()


def run(model: LlamaCppModel, **fields: object) -> tuple[str, Chunk, list[Chunk]]:
    fields.setdefault("model", model.name)
    chunks = collect(model, GenerationRequest(**fields))  # type: ignore[arg-type]
    final = chunks[-1]
    assert final.is_final and all(not c.is_final for c in chunks[:-1])
    return "".join(c.text for c in chunks), final, chunks


def test_chat_uses_the_ggufs_template_and_answers(smollm2: LlamaCppModel) -> None:
    text, final, _ = run(smollm2, messages=FRANCE, temperature=0, max_tokens=20)
    assert "Paris" in text
    assert final.finish_reason == "stop"
    assert "<|im_end|>" not in text and "<|im_start|>" not in text


def test_prompt_is_formatted_with_the_template(smollm2: LlamaCppModel) -> None:
    prompt = smollm2._format_chat(FRANCE)
    assert "<|im_start|>user\nWhat is the capital" in prompt
    assert prompt.rstrip().endswith("<|im_start|>assistant")


def test_greedy_output_and_usage_match_raw_llama_cpp_python(
        smollm2: LlamaCppModel, bundled_model_path: Path) -> None:
    """Same prompt, temperature 0: our text and exact token counts equal the library's."""
    prompt = "The capital of France is"
    text, final, _ = run(smollm2, prompt=prompt, temperature=0, max_tokens=12)
    llama = raw_llama(bundled_model_path, n_ctx=1024, verbose=False)
    raw = llama.create_completion(prompt, max_tokens=12, temperature=0, repeat_penalty=1.0)
    llama.close()
    assert text == raw["choices"][0]["text"]
    assert final.usage is not None
    assert final.usage.prompt_tokens == raw["usage"]["prompt_tokens"]
    assert final.usage.completion_tokens == raw["usage"]["completion_tokens"]


def test_max_tokens_ends_with_length_and_exact_count(smollm2: LlamaCppModel) -> None:
    _, final, _ = run(smollm2, prompt="Once upon a time", temperature=0, max_tokens=7)
    assert final.finish_reason == "length"
    assert final.usage is not None and final.usage.completion_tokens == 7


def test_stop_sequence_cuts_the_text_and_never_leaks(smollm2: LlamaCppModel) -> None:
    full, _, _ = run(smollm2, prompt="1, 2, 3, 4, 5,", temperature=0, max_tokens=16)
    assert " 7" in full
    text, final, chunks = run(smollm2, prompt="1, 2, 3, 4, 5,", temperature=0,
                              max_tokens=16, stop=[" 7"])
    assert final.finish_reason == "stop"
    assert text == full[: full.index(" 7")]
    assert all(" 7" not in c.text for c in chunks)


def test_seed_makes_sampling_repeatable(smollm2: LlamaCppModel) -> None:
    fields = dict(prompt="My favourite animal is", temperature=1.0, max_tokens=16)
    a, _, _ = run(smollm2, seed=1234, **fields)
    b, _, _ = run(smollm2, seed=1234, **fields)
    assert a == b
    others = {run(smollm2, seed=s, **fields)[0] for s in (1, 2, 3)}
    assert len(others | {a}) > 1  # the seed matters


def test_sampling_parameters_are_applied(smollm2: LlamaCppModel) -> None:
    # top_k = 1 is greedy whatever the temperature
    greedy, _, _ = run(smollm2, prompt="The sky is", temperature=0, max_tokens=8)
    topk1, _, _ = run(smollm2, prompt="The sky is", temperature=1.5, top_k=1, max_tokens=8,
                      seed=7)
    assert topk1 == greedy


def test_context_overflow_is_refused_before_generating(smollm2: LlamaCppModel) -> None:
    with pytest.raises(ContextLengthExceededError) as info:
        run(smollm2, prompt="word " * 1100, max_tokens=4)
    assert info.value.n_ctx == 1024 and info.value.prompt_tokens > 1024


def test_closing_the_stream_early_releases_the_model(smollm2: LlamaCppModel) -> None:
    async def first_then_close() -> Chunk:
        stream = smollm2.generate(GenerationRequest(model="m", prompt="Count: 1, 2,",
                                                    max_tokens=200, temperature=0))
        first = await anext(stream)
        await stream.aclose()  # returns once the engine let go of the slot
        return first

    first = asyncio.run(first_then_close())
    assert not first.is_final
    assert not smollm2.engine._active()  # the engine freed its slot
    text, final, _ = run(smollm2, prompt="Hello", max_tokens=2, temperature=0)
    assert final.usage is not None and final.usage.completion_tokens == 2


def test_tiny_generated_gguf_loads_and_generates(tiny_gguf_path: Path) -> None:
    model = LlamaCppModel(ModelSpec("tiny", tiny_gguf_path), LlamaCppOptions(n_ctx=128))
    try:
        text, final, _ = run(model, prompt="abc", max_tokens=5, temperature=0)
        assert final.finish_reason == "length" and final.usage is not None
        assert final.usage.completion_tokens == 5
        # no chat template in the file: ChatML fallback
        prompt = model._format_chat([ChatMessage("user", "hi")])
        assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    finally:
        model.close()


def test_named_chat_format_and_template_errors(tiny_gguf_path: Path) -> None:
    model = LlamaCppModel(ModelSpec("tiny", tiny_gguf_path),
                          LlamaCppOptions(n_ctx=128, chat_format="llama-3"))
    try:
        prompt = model._format_chat([ChatMessage("developer", "be brief"),
                                        ChatMessage("user", "hi")])
        assert "<|start_header_id|>system<|end_header_id|>\n\nbe brief<|eot_id|>" in prompt
    finally:
        model.close()
    strict = LlamaCppModel(
        ModelSpec("tiny", tiny_gguf_path),
        LlamaCppOptions(n_ctx=128, chat_template="{{ raise_exception('no system please') }}"))
    try:
        with pytest.raises(InvalidRequestError, match="no system please"):
            run(strict, messages=[ChatMessage("user", "hi")])
    finally:
        strict.close()


def test_corrupt_file_fails_to_load_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ValueError, match="Failed to load model"):
        LlamaCppModel(ModelSpec("bad", bad), LlamaCppOptions())


def test_options_validation() -> None:
    def parse(**options: object) -> LlamaCppOptions:
        return parse_options(LlamaCppOptions, ModelSpec("m", None, options))

    assert parse().n_ctx == 4096
    assert parse(type_k="q8_0", type_v="q8_0", flash_attn=True).type_v == "q8_0"
    assert parse(type_v="q4_0").flash_attn == "auto"
    with pytest.raises(OptionsError, match="needs flash_attn"):
        parse(type_v="q4_0", flash_attn=False)
    with pytest.raises(OptionsError, match="chat_format: expected one of"):
        parse(chat_format="klingon")
    with pytest.raises(OptionsError, match=r"models\.m\.options\.n_gpu_layers"):
        parse(n_gpu_layers=-2)
    with pytest.raises(OptionsError, match="did you mean 'n_threads'"):
        parse(n_thread=4)


def test_loading_reports_progress_and_the_device(bundled_model_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """llama.cpp's load progress callback reaches the hook's ``progress`` argument."""
    from hoshikage_backends.llamacpp import plugin

    seen: list[float] = []
    caplog.set_level("INFO", logger="hoshikage_backends.llamacpp.runtime")
    handle = plugin.hoshikage_load(
        model=ModelSpec("progress-probe", bundled_model_path, {"n_ctx": 256}),
        progress=seen.append)
    try:
        assert len(seen) > 10  # once per tensor
        assert seen == sorted(seen) and seen[0] < 0.5 and seen[-1] == 1.0
        placement = [r.getMessage() for r in caplog.records if " runs on " in r.getMessage()]
        assert placement and placement[0].startswith("progress-probe runs on CPU")
    finally:
        plugin.hoshikage_unload(handle=handle)


def test_devices_are_listed(bundled_model_path: Path) -> None:
    import llama_cpp

    from hoshikage_backends.llamacpp.devices import describe_placement, list_devices

    devices = list_devices(llama_cpp)
    assert devices is not None and any(d.kind == "CPU" for d in devices)
    if not llama_cpp.llama_supports_gpu_offload():
        assert "built without GPU support" in describe_placement(llama_cpp, -1, 30)


def test_suffix_builds_a_fill_in_the_middle_prompt(tmp_path: Path) -> None:
    """A model with FIM tokens gets <pre> prefix <suf> suffix <mid>, and generates after it."""
    from hoshikage_core.testing.tiny_gguf import write_tiny_gguf

    path = write_tiny_gguf(tmp_path / "fim.gguf", fill_in_the_middle=True)
    model = LlamaCppModel(ModelSpec("fim", path), LlamaCppOptions(n_ctx=128))
    try:
        pre, suf, mid = (model.tokenize(t, add_special=False)
                         for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"))
        assert len(pre) == len(suf) == len(mid) == 1  # each is one special token
        tokens = model.prompt_tokens(GenerationRequest(model="fim", prompt="def f(",
                                                       suffix="return 1"))
        body = model.tokenize("def f(", add_special=False)
        tail = model.tokenize("return 1", add_special=False)
        assert tokens == [1, *pre, *body, *suf, *tail, *mid]  # <s> first: add_bos is on
        text, final, _ = run(model, prompt="def f(", suffix="return 1", max_tokens=3,
                             logit_bias={2: -100})
        assert final.usage is not None and final.usage.prompt_tokens == len(tokens)
        assert final.usage.completion_tokens == 3
    finally:
        model.close()


def test_plain_greedy_takes_the_argmax_path_and_picks_what_the_chain_picks(
        smollm2: LlamaCppModel) -> None:
    """temperature 0 and nothing else: argmax over the logits, token for token the same
    as llama.cpp's sampler chain (forced here by a neutral penalty the chain applies)."""
    from hoshikage_backends.llamacpp.sampling import GreedySampler, build_sampler

    plain = GenerationRequest(model="smollm2", prompt="The capital of France is",
                              temperature=0, max_tokens=24)
    assert isinstance(build_sampler(smollm2.runtime.model, plain, seed=None), GreedySampler)
    assert not isinstance(build_sampler(smollm2.runtime.model, plain, seed=None,
                                        logit_bias={1: 0.0}), GreedySampler)
    fast, _, _ = run(smollm2, prompt=plain.prompt, temperature=0, max_tokens=24)
    slow, _, _ = run(smollm2, prompt=plain.prompt, temperature=0, max_tokens=24,
                     logit_bias={0: 0.0})  # a bias of 0 changes nothing but takes the chain
    assert fast == slow and len(fast) > 20


def test_a_template_that_does_not_compile_fails_the_load_naming_the_model(
        tmp_path: Path) -> None:
    from hoshikage_core.testing.tiny_gguf import write_tiny_gguf

    broken = write_tiny_gguf(tmp_path / "broken.gguf",
                             chat_template="{% for m in messages %}{{ m.content }")
    with pytest.raises(ValueError, match="model 'broken': the chat template does not compile"):
        LlamaCppModel(ModelSpec("broken", broken), LlamaCppOptions(n_ctx=128))
