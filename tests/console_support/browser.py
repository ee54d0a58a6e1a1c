"""Headless Chromium for the console tests: the browser, a signed-in page, screenshots."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright, ViewportSize, expect

from support.demo import Demo

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
# The network stays closed in tests: no first-run pages, no component updates, no background fetches.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}  # a laptop screen


def launch(playwright: Playwright) -> Browser:
    """The system's Chromium (scripts/bootstrap installs it), else the one Playwright manages."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)


def shot(page: Page, name: str) -> Path:
    """A screenshot artifact: the whole page, or the screen when a dialog is open (as a person sees it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=page.locator("dialog[open]").count() == 0)
    return path


def open_console(page: Page, demo: Demo) -> None:
    page.goto(demo.console_url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def sign_in(page: Page, demo: Demo, account: str = "user", *, open_first: bool = True) -> None:
    """Fill the sign-in form as a person would and press Enter."""
    if open_first:
        open_console(page, demo)
    who = demo.manifest[account]
    page.fill("#signin-user", who["name"])
    page.fill("#signin-password", who["password"])
    page.fill("#signin-domain", demo.manifest["domain"])
    page.fill("#signin-project", demo.manifest["project_name"])
    page.press("#signin-password", "Enter")
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#sign-out")).to_be_visible()


def refresh_sessions(page: Page) -> None:
    before = page.locator("#panel-sessions").get_attribute("data-loaded")
    page.click("#refresh-now")
    expect(page.locator("#panel-sessions")).not_to_have_attribute("data-loaded", before or "")


def session_row(page: Page, thread_id: int) -> Locator:
    return page.locator(f'#sessions-table tbody tr[data-id="{thread_id}"]')
