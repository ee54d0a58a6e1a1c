"""The browser fixtures every console test module shares: one Chromium per module, a fresh page per
test that fails the test on any JavaScript error, and the application sessions a test opens on the
demo's nodes (closed afterwards). A module imports them and defines its own ``demo``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from console_support.browser import VIEWPORT, launch
from console_support.demo import AppSessions
from support.demo import Demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-US")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def app(demo: Demo) -> Iterator[AppSessions]:
    sessions = AppSessions(demo)
    try:
        yield sessions
    finally:
        sessions.close_all()
