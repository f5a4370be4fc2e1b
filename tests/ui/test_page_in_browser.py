"""The built-in page at ``/`` in a real headless Chromium, against a real server.

The page runs under its own Content-Security-Policy here (no bypass), so these
tests also prove it needs nothing inline and nothing from elsewhere.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server, stop_server

pytestmark = pytest.mark.real_model

def row(page: Any, model: str) -> Any:
    return page.locator(f'tr[data-model="{model}"]')


def test_the_page_lists_models_and_streams_a_chat(server: RunningServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/")
    expect(row(page, "smollm2")).to_contain_text("aka default")
    expect(row(page, "never-used").locator(".state")).to_have_text("unloaded")
    expect(page.locator("#chat-model")).to_have_value("smollm2")  # the "default" alias

    page.fill("#chat-max-tokens", "40")
    page.fill("#chat-temperature", "0")
    page.fill("#chat-input", "List the numbers from 1 to 100, separated by commas.")
    page.press("#chat-input", "Enter")
    answer = page.locator(".message.assistant").last
    stats = page.locator("#chat-stats")
    seen: list[str] = []
    deadline = time.monotonic() + 120  # a hang guard, not a timing
    while "generated" not in stats.inner_text() and time.monotonic() < deadline:
        text = answer.inner_text()
        if text and (not seen or text != seen[-1]):
            seen.append(text)
    expect(stats).to_contain_text("40 generated tokens")
    expect(stats).to_contain_text("cut at max tokens")
    final = answer.inner_text()
    assert final.startswith("1, 2, 3")
    # streamed: the answer grew in several steps, each a prefix of the final text
    partial = [text for text in seen if text != final]
    assert len(partial) >= 3, seen
    assert all(final.startswith(text) for text in partial)
    assert page.console_errors == []


def test_load_and_unload_buttons(server: RunningServer, page: Any) -> None:
    from playwright.sync_api import expect

    httpx.post(f"{server.url}/admin/models/tiny/unload", timeout=60).raise_for_status()
    page.goto(f"{server.url}/")
    tiny = row(page, "tiny")
    expect(tiny.locator(".state")).to_have_text("unloaded")
    tiny.get_by_role("button", name="Load").click()
    expect(tiny.locator(".state")).to_have_text("ready")
    assert httpx.get(f"{server.url}/admin/models/tiny").json()["state"] == "ready"
    expect(tiny).not_to_contain_text("-  ")  # memory is shown once known
    tiny.get_by_role("button", name="Unload").click()
    expect(tiny.locator(".state")).to_have_text("unloaded")
    assert httpx.get(f"{server.url}/admin/models/tiny").json()["state"] == "unloaded"
    assert page.console_errors == []


def test_stop_ends_a_stream_and_frees_the_model(server: RunningServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/")
    page.fill("#chat-input", "Write a long story about a dragon.")
    page.click("#chat-send")
    answer = page.locator(".message.assistant").last
    expect(answer).not_to_be_empty()
    stopped_before = server.log().count("smollm2: generation stopped early")
    page.click("#chat-stop")
    expect(page.locator("#chat-stats")).to_have_text("stopped")
    expect(page.locator("#chat-send")).to_be_enabled()
    deadline = time.monotonic() + 60
    while httpx.get(f"{server.url}/admin/models/smollm2").json()["running"] and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(f"{server.url}/admin/models/smollm2").json()["running"] == 0
    # the server saw the client leave and stopped generating
    assert server.log().count("smollm2: generation stopped early") == stopped_before + 1


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory, tiny_gguf_path: Path) -> Any:
    folder = tmp_path_factory.mktemp("keyed")
    config = folder / "hoshikage.toml"
    config.write_text(f'[server]\napi_keys = ["right-key-123"]\n\n'
                      f'[models.tiny]\npath = "{tiny_gguf_path}"\n')
    running = start_server(config, folder / "server.log")
    yield running
    stop_server(running)


def test_with_api_keys_the_page_asks_for_one(keyed_server: RunningServer, page: Any) -> None:
    from playwright.sync_api import expect

    assert httpx.get(f"{keyed_server.url}/admin/models").status_code == 401
    page.goto(f"{keyed_server.url}/")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(row(page, "tiny")).to_have_count(0)  # nothing is shown without the key
    page.fill("#key-input", "wrong-key-456")
    page.click("#key-submit")
    expect(page.locator("#key-error")).to_contain_text("Incorrect API key")
    page.fill("#key-input", "right-key-123")
    page.click("#key-submit")
    expect(dialog).to_be_hidden()
    expect(row(page, "tiny").locator(".state")).to_have_text("unloaded")
    # the key is kept for this tab only
    assert page.evaluate("sessionStorage.getItem('hoshikage.apiKey')") == "right-key-123"
