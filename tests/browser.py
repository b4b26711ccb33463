"""A real headless Chromium (Debian's package) driven by Playwright for Python, for page tests.

Use the `browser_page` fixture (import it into a conftest, or `pytest_plugins`); it yields a Playwright sync Page.
"""

from __future__ import annotations

import tempfile

import pytest

from tests.deps import chromium_executable

# Flags that keep Chromium from reaching for the network at start (this machine has none) and let it run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


# Module scope, not session: while a browser is open, Playwright's sync API keeps an event loop running in the
# worker's main thread, which would break every later async test on the same xdist worker.
@pytest.fixture(scope="module")
def chromium_browser():
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="cleavr-chromium-") as profile, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
        del profile


@pytest.fixture
def browser_page(chromium_browser):
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
