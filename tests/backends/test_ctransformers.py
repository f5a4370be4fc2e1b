"""The ctransformers backend on a tiny generated GGUF (it cannot load SmolLM2)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hoshikage_backends.ctransformers import plugin
from hoshikage_backends.ctransformers.model import CTransformersModel
from hoshikage_backends.ctransformers.options import CTransformersOptions
from hoshikage_core import ChatMessage, GenerationRequest, Hoshikage, ModelSpec
from hoshikage_core.errors import BackendUnavailableError
from hoshikage_core.plugins.discovery import create_plugin_manager

pytestmark = pytest.mark.real_model

NO_EOS = {2: -100.0}  # random weights: keep </s> from ending things early


@pytest.fixture(scope="module")
def tiny(tiny_gguf_path: Path) -> Iterator[CTransformersModel]:
    model = CTransformersModel(ModelSpec("tiny", tiny_gguf_path),
                               CTransformersOptions(model_type="llama", context_length=256))
    yield model
    model.close()


def text_of(model: CTransformersModel, **fields: Any) -> str:
    return "".join(c.text for c in model.generate(GenerationRequest(model="tiny", **fields)))


def test_chat_goes_through_chatml_by_default(tiny: CTransformersModel) -> None:
    chat = GenerationRequest(model="tiny", messages=[ChatMessage("user", "Hi")])
    expected = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert tiny.prompt_tokens(chat) == tiny.tokenize(expected, True)


def test_another_chat_format_changes_the_prompt(tiny_gguf_path: Path) -> None:
    model = CTransformersModel(ModelSpec("tiny", tiny_gguf_path),
                               CTransformersOptions(model_type="llama", context_length=256,
                                                    chat_format="llama-2"))
    try:
        chat = GenerationRequest(model="tiny", messages=[ChatMessage("user", "Hi")])
        assert model.prompt_tokens(chat) == model.tokenize("[INST] Hi [/INST]", True)
    finally:
        model.close()


def test_seed_and_temperature_take_effect(tiny: CTransformersModel) -> None:
    ask: dict[str, Any] = {"prompt": "Hello", "max_tokens": 12, "logit_bias": NO_EOS,
                           "temperature": 1.5}
    first = text_of(tiny, seed=1, **ask)
    assert first == text_of(tiny, seed=1, **ask)  # same seed, same text
    others = {text_of(tiny, seed=s, **ask) for s in (2, 3, 4)}
    assert others - {first}  # other seeds, other texts
    greedy = {text_of(tiny, temperature=0, seed=s, prompt="Hello", max_tokens=12,
                      logit_bias=NO_EOS) for s in (1, 2)}
    assert len(greedy) == 1  # temperature 0: the seed does not matter


def test_unfit_fields_are_refused_by_name() -> None:
    assert "logprobs" not in plugin.hoshikage_supported_fields()


async def test_without_ctransformers_it_is_unavailable_with_the_install_hint(
        monkeypatch: pytest.MonkeyPatch, tiny_gguf_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ctransformers" else real(name, *a))
    described = {p.name: p for p in create_plugin_manager().describe()}
    assert described["ctransformers"].unavailable == plugin.INSTALL_HINT
    assert "pip install 'hoshikage[ctransformers]'" in plugin.INSTALL_HINT
    config = {"models": {
        "ct": {"backend": "ctransformers", "path": str(tiny_gguf_path),
               "options": {"model_type": "llama"}},
        "ll": {"path": str(tiny_gguf_path), "options": {"n_ctx": 128}}}}
    async with Hoshikage(config) as hk:  # starts: one backend missing breaks nothing
        with pytest.raises(BackendUnavailableError) as info:
            await hk.complete("x", model="ct", max_tokens=1)
        assert info.value.status_code == 503 and plugin.INSTALL_HINT in info.value.message
        assert (await hk.complete("x", model="ll", max_tokens=2, logit_bias=NO_EOS)).text
