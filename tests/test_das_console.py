"""The console's database-user view (DAS's least-privilege mode) end to end, in headless Chromium
against `taurus-sessions demo`: register an account (a wrong password refused with DAS's error),
browse the instance's sessions as that account, kill one of its own, in English and Chinese,
driven from the keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from console_support.browser import shot, sign_in
from console_support.demo import AppSessions
from support.demo import Demo, running_demo
from support.poll import eventually

pytestmark = pytest.mark.browser

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("das-console-demo")) as running:
        yield running


def open_db_users_tab(page: Page) -> None:
    """From the first tab, End moves to the last one (the tab list's keyboard handling)."""
    page.focus('[role="tab"][aria-selected="true"]')
    page.keyboard.press("End")
    expect(page.locator("#tab-dbusers")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-dbusers")).to_be_visible()


def test_register_browse_as_the_account_and_kill_its_session(
    page: Page, demo: Demo, app: AppSessions
) -> None:
    account = demo.manifest["app_account"]
    mine = [app.open_app(), app.open_app()]
    sign_in(page, demo)
    open_db_users_tab(page)
    expect(page.locator("#dbusers-list")).to_contain_text("No database user is registered")

    page.fill("#dbuser-name", account["user"])
    page.fill("#dbuser-password", "not-the-password")
    page.press("#dbuser-password", "Enter")
    refused = page.locator("#dbuser-form-error")
    expect(refused).to_contain_text("DAS.220001: Failed to connect to the database.")
    expect(refused).to_contain_text("request")
    expect(page.locator("#dbuser-password")).to_have_value("")
    shot(page, "das-register-refused")

    page.fill("#dbuser-password", account["password"])
    page.press("#dbuser-password", "Enter")
    expect(page.locator("#dbuser-registered")).to_contain_text(f"Registered {account['user']}.")
    expect(page.locator("#dbusers-list tbody tr")).to_have_count(1)
    sessions = page.locator("#das-sessions")
    expect(sessions).to_be_visible()
    expect(page.locator("#das-sessions-title")).to_have_text(f"Sessions as {account['user']}")
    for session in mine:
        expect(page.locator(f'#das-sessions-table tbody tr[data-id="{session.id}"]')).to_be_visible()
    # Without PROCESS the account sees its own sessions only: no internal thread, no other account.
    users = page.locator("#das-sessions-table tbody tr td:nth-child(3)").all_inner_texts()
    assert users and set(users) == {account["user"]}
    shot(page, "das-sessions-as-account")

    victim = mine[0]
    row = page.locator(f'#das-sessions-table tbody tr[data-id="{victim.id}"]')
    row.locator("input.das-select").focus()
    page.keyboard.press("Space")
    expect(page.locator("#das-kill")).to_have_text("Kill 1 selected")
    page.click("#das-kill")
    expect(page.locator("#das-kill-confirm")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#das-kill-confirm")).to_be_hidden()
    page.click("#das-kill")
    expect(page.locator("#das-kill-question")).to_have_text(f"Kill 1 session(s) as {account['user']}?")
    shot(page, "das-kill-confirm")
    page.keyboard.press("Enter")  # the confirmation's Kill button has the focus
    expect(page.locator("#das-kill-status")).to_be_visible()
    eventually(lambda: not demo.thread_exists(victim.id), message="the killed session to leave the node")
    assert demo.thread_exists(mine[1].id)
    expect(row).to_have_count(0)

    page.select_option("#language", "zh")
    expect(page.locator("#tab-dbusers")).to_have_text("数据库用户")
    expect(page.locator("#das-sessions-title")).to_have_text(f"以 {account['user']} 查看的会话")
    shot(page, "das-sessions-zh")
    page.select_option("#language", "en")

    page.locator("#dbusers-list button.dbuser-remove").click()
    expect(page.locator("#dbusers-list")).to_contain_text("No database user is registered")
    expect(sessions).to_be_hidden()


def test_a_reader_may_browse_but_not_register_or_kill(page: Page, demo: Demo) -> None:
    sign_in(page, demo, "readonly_user")
    open_db_users_tab(page)
    expect(page.locator("#dbusers-list")).to_be_visible()
    assert page.locator("#dbuser-form").count() == 0
    assert page.locator("#das-kill").count() == 0
