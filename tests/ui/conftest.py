"""Fixtures for the browser tests: one Chromium for the whole run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ui.browser import CHROMIUM_ARGS, find_chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium. Skipped where none is installed, unless
    ``HOSHIKAGE_REQUIRE_BROWSER=1`` (CI sets it) makes that a failure.

    Module-scoped: Playwright's sync API keeps an event loop running in this
    thread while it is open, which ``asyncio.run`` in later tests must not meet.
    """
    executable = find_chromium()
    if executable is None:
        message = ("no Chromium found: install it (Debian: apt-get install chromium) "
                   "or set HOSHIKAGE_CHROMIUM")
        if os.environ.get("HOSHIKAGE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh tab (own storage), with the page's console errors collected."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.console_errors.append(str(e)))
    yield tab
    context.close()
