"""Browser fixtures: the real app served on a free port, and Chromium driven by Playwright.

The `app`, `demo` and database fixtures come from tests/conftest.py, so every test gets a fresh database.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium; missing means skip locally but fail in CI (a skipped suite must not pass CI)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: CI must install it (apt-get install -y chromium)")
        pytest.skip("Chromium is missing: install it with 'sudo apt-get install -y chromium'")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, live_server):
    """A fresh context (no cookies) and page per test; relative URLs resolve against the live server."""
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        try:
            yield page
        finally:
            page.close()
    finally:
        context.close()
