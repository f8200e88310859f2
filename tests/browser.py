"""Headless Chromium for the browser tests (bench.browser's): a missing Chromium fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bench import browser


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser, closed afterwards; a missing Chromium fails the test (it is part of the setup)."""
    if not browser.CHROMIUM.exists():
        pytest.fail(browser.MISSING)
    with browser.chromium() as launched:
        yield launched
