"""docs/writing-a-backend.md: its backend is the example file, small, and conformant."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hoshikage_core.testing.conformance import BackendConformance, ConformanceSetup
from tests.conftest import REPO, start_server, stop_server

BACKEND = REPO / "examples" / "plugins" / "words.py"


def test_the_tutorial_shows_the_whole_example_file() -> None:
    tutorial = (REPO / "docs" / "writing-a-backend.md").read_text()
    assert BACKEND.read_text().strip() in tutorial
    code_lines = [line for line in BACKEND.read_text().splitlines() if line.strip()]
    assert len(code_lines) <= 35  # "about thirty lines"


class TestWords(BackendConformance):
    @pytest.fixture
    def conformance(self, tmp_path: Path) -> ConformanceSetup:
        book = tmp_path / "book.txt"
        book.write_text("the quick brown fox jumps over the lazy dog " * 20)
        not_text = tmp_path / "image.bin"
        not_text.write_bytes(b"\xff\xfe\x00\x81" * 64)  # not UTF-8: the load fails
        return ConformanceSetup(
            config={"plugins": {"dir": str(BACKEND.parent)},
                    "models": {"book": {"backend": "words", "path": str(book)},
                               "broken": {"backend": "words", "path": str(not_text)}}},
            model="book", broken_model="broken")


def test_the_example_config_serves_it(tmp_path: Path) -> None:
    server = start_server(REPO / "examples" / "words.toml", tmp_path / "words.log")
    try:
        reply = httpx.post(f"{server.url}/v1/completions", json={
            "model": "poem", "prompt": "Hi", "max_tokens": 8, "stop": ["again"]}).json()
        assert reply["choices"][0]["text"].strip().startswith("shadow,")
        refused = httpx.post(f"{server.url}/v1/completions", json={
            "model": "poem", "prompt": "Hi", "logprobs": 2})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "logprobs"
        plugins = httpx.get(f"{server.url}/v1/models").json()["data"][0]
        assert plugins["backend"] == "words"
    finally:
        assert stop_server(server) == 0
