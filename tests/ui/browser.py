"""A real headless Chromium (Debian's ``chromium``), driven by Playwright.

Playwright drives the browser the system has; it downloads nothing. Set
``HOSHIKAGE_CHROMIUM`` to use another Chromium binary.
"""

from __future__ import annotations

import os
import shutil

__all__ = ["CHROMIUM_ARGS", "find_chromium"]

# Headless as root in a container, with no attempts to reach Google's services.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def find_chromium() -> str | None:
    given = os.environ.get("HOSHIKAGE_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None
