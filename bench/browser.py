"""Headless Chromium for the client benchmarks and tests: Debian's ``chromium`` driven by Playwright
(never a download)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING = "Chromium is missing: apt-get install -y chromium (or run .ci/setup --test)"


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser, closed afterwards; FileNotFoundError without Chromium (part of the setup)."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(MISSING)
    # Local: only a run that drives the browser loads playwright (a test dependency, heavy to import)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
