"""Write docs/ui.png: the built-in page after a short chat, in headless Chromium.

    python -m tests.ui.screenshot

Serves examples/hoshikage.toml on a free port, asks the default model one
question at temperature 0, and saves the page. (Install a CJK font, e.g.
Debian's fonts-ipafont-gothic, for the 星影 in the header.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from hoshikage_core.testing.server import start_server, stop_server
from tests.ui.browser import CHROMIUM_ARGS, find_chromium

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    executable = find_chromium()
    if executable is None:
        raise SystemExit("no Chromium found (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(REPO / "examples" / "hoshikage.toml", Path(folder) / "server.log",
                              cwd=REPO)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable,
                                                     args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1200, "height": 620})
                page.goto(f"{server.url}/")
                expect(page.locator('tr[data-model="smollm2"] .state')).to_have_text("ready")
                page.fill("#chat-temperature", "0")
                page.fill("#chat-input", "What is the capital of France? Answer in one sentence.")
                page.press("#chat-input", "Enter")
                expect(page.locator("#chat-stats")).to_contain_text("generated", timeout=60_000)
                page.screenshot(path=str(REPO / "docs" / "ui.png"))
                browser.close()
        finally:
            stop_server(server)
    print(f"wrote {REPO / 'docs' / 'ui.png'}")


if __name__ == "__main__":
    main()
