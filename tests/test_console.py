"""The web console end to end: headless Chromium against `taurus-sessions demo` (real MariaDB nodes).

Each test signs in through the form, acts through the page as a person would, and checks the effect
on the node itself (information_schema through the root account). Screenshots of every step that
matters go to artifacts/console/.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from console_support.browser import (
    open_console,
    refresh_sessions,
    session_row,
    shot,
    sign_in,
)
from console_support.demo import INTERNAL_USERS, AppSessions
from support.client import token_body
from support.demo import Demo, running_demo
from support.poll import eventually
from support.sessions import INNODB_CACHE_POLL, Session

pytestmark = pytest.mark.browser

expect.set_options(timeout=15_000)

AUTH_KEY = "taurus.console.auth"
CSV_HEADER = (
    "id,at,request_id,action,project_id,instance_id,node_id,actor_kind,actor_name,access_key,task_id,"
    "source_ip,mode,dry_run,outcome,http_status,error_code,requested,results,occurrences,last_at"
)
# The policy the service sends with the console (spec Part H): nothing inline, nothing from elsewhere.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
# Every GET the page sends to the API, with when it started and when its answer was read; answers
# can be held back (window.apiDelay, milliseconds) to make slow ones overlap if anything lets them.
RECORD_API_CALLS = """
  window.apiCalls = [];
  window.apiDelay = 0;
  const send = window.fetch.bind(window);
  window.fetch = async (url, init = {}) => {
    if ((init.method || 'GET') !== 'GET' || !String(url).startsWith('/v3/')) return send(url, init);
    const call = { url: String(url), start: performance.now(), end: null };
    window.apiCalls.push(call);
    try {
      const response = await send(url, init);
      await new Promise((resolve) => setTimeout(resolve, window.apiDelay));
      return response;
    } finally {
      call.end = performance.now();
    }
  };
"""
# Every violation the page meets is kept on the page, from the first script on.
RECORD_CSP_VIOLATIONS = """
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    const where = `${e.sourceFile}:${e.lineNumber}`;
    window.cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${where}`);
  });
"""


# Autonomous SQL limiting on the demo counts a rule's minute as one second and checks five times a
# second, so that a rule fires (and its limit ends) while a test watches.
LIMITING_SETTINGS = {"TAURUS_LIMITING_MINUTE_SECONDS": "1", "TAURUS_LIMITING_CHECK_SECONDS": "0.2"}


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("console-demo"), settings=LIMITING_SETTINGS) as running:
        yield running


# -- helpers ----------------------------------------------------------------------------------------
def command_of(demo: Demo, thread_id: int) -> str | None:
    rows = demo.root_rows("SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,))
    return str(rows[0][0]) if rows else None


def start_sleep(demo: Demo, session: Session, marker: str, seconds: int = 300) -> None:
    session.run_async(f"SELECT SLEEP({seconds}) AS {marker}")
    eventually(
        lambda: command_of(demo, session.id) == "Query",
        timeout=15,
        interval=0.1,
        message=f"session {session.id} to run its statement",
    )


def select_rows(page: Page, *thread_ids: int) -> None:
    for thread_id in thread_ids:
        row = session_row(page, thread_id)
        expect(row).to_be_visible()
        row.locator("input.row-select").check()
    expect(page.locator("#selection-count")).to_have_text(f"{len(thread_ids)} selected")


def kill_dialog(page: Page) -> Locator:
    return page.locator("dialog.kill-dialog")


def outcome_of(dialog: Locator, thread_id: int, outcome: str) -> Locator:
    return dialog.locator(f'tr[data-id="{thread_id}"] [data-outcome="{outcome}"]')


def settle(scope: Page | Locator, wanted: str, error: str) -> None:
    """Wait for `wanted` or an API error banner; an error fails the test with the API's own words."""
    either = scope.locator(f"{wanted}, {error}:not([hidden])").first
    expect(either).to_be_visible()
    banner = scope.locator(f"{error}:not([hidden])")
    if banner.count():
        pytest.fail(f"the console shows an API error: {banner.first.inner_text()}")


def refresh_unless_gone(page: Page) -> None:
    """Press "Refresh now" unless an automatic refresh already met the token and left the view."""
    page.evaluate("() => { const b = document.getElementById('refresh-now'); if (b) b.click(); }")


def gone(demo: Demo, thread_id: int) -> Callable[[], bool]:
    return lambda: not demo.thread_exists(thread_id)


def lock_waiting(demo: Demo, thread_id: int) -> bool:
    rows = demo.root_rows(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX "
        "WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'",
        (thread_id,),
    )
    return int(rows[0][0]) == 1


def user_cells(page: Page) -> list[str]:
    return page.locator("#sessions-table tbody tr[data-id] td.user").all_inner_texts()


# -- sign-in and the session table -------------------------------------------------------------------
def test_sign_in_shows_the_test_sessions_and_no_internal_ones(
    demo: Demo, page: Page, app: AppSessions
) -> None:
    idle = app.open_app()
    busy = app.open_app()
    long_tail = "x" * 150  # long enough for the statement cell to fold
    busy.run_async(f"SELECT SLEEP(300) AS console_list_marker, '{long_tail}' AS padding")
    eventually(
        lambda: command_of(demo, busy.id) == "Query",
        timeout=15,
        interval=0.1,
        message="the long statement to start",
    )
    in_trx = app.open_app()
    in_trx.execute("START TRANSACTION")
    in_trx.execute("SELECT id FROM orders WHERE id = 2 FOR UPDATE")
    # The node does run internal threads: the console must leave them out.
    node_users = {str(u) for (u,) in demo.root_rows("SELECT USER FROM information_schema.PROCESSLIST")}
    assert {"rdsMetric", "event_scheduler"} <= node_users

    open_console(page, demo)
    expect(page.locator("#signin-form")).to_be_visible()
    expect(page.locator("#app-view")).to_be_hidden()
    shot(page, "01-sign-in")
    sign_in(page, demo, open_first=False)

    for session in (idle, busy, in_trx):
        expect(session_row(page, session.id)).to_be_visible()
    page.select_option("#page-size", "100")
    refresh_sessions(page)
    app_user = demo.manifest["app_account"]["user"]
    users = user_cells(page)
    assert users and set(users) == {app_user}, users
    assert not set(users) & set(INTERNAL_USERS)
    on_node = demo.root_rows(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", (app_user,)
    )
    expect(page.locator("#page-info")).to_have_attribute("data-total", str(on_node[0][0]))
    expect(page.locator(f'#stats-user li[data-name="{app_user}"] .bar-count')).to_have_text(
        str(on_node[0][0])
    )
    expect(page.locator('#stats-command li[data-name="Query"]')).to_be_visible()

    # primary and read replica are named as such
    options = page.locator("#node-select option").all_inner_texts()
    assert any(o.endswith("(primary)") for o in options), options
    assert any(o.endswith("(read replica)") for o in options), options
    expect(page.locator("#node-badge")).to_have_text("primary")

    # marks: a statement over the chosen threshold, a sleeping session inside a transaction
    page.fill("#long-after", "1")
    expect(session_row(page, busy.id)).to_have_attribute("data-long", "true")
    expect(session_row(page, in_trx.id)).to_have_attribute("data-idle-in-trx", "true")
    expect(session_row(page, idle.id)).to_have_attribute("data-long", "false")
    expect(session_row(page, idle.id)).to_have_attribute("data-idle-in-trx", "false")
    expect(session_row(page, in_trx.id).locator(".badge.mark-idle")).to_have_text("idle in transaction")

    # the statement expands
    statement = session_row(page, busy.id).locator("td.statement")
    expect(statement.locator("pre.sql-full")).to_be_hidden()
    statement.locator("summary").click()
    expect(statement.locator("pre.sql-full")).to_contain_text(long_tail)
    shot(page, "02-sessions-primary")

    # the read replica has none of these sessions
    replica = demo.node("readreplica")["node_id"]
    page.select_option("#node-select", replica)
    expect(page.locator("#node-badge")).to_have_text("read replica")
    refresh_sessions(page)
    expect(session_row(page, busy.id)).to_have_count(0)
    shot(page, "03-sessions-read-replica")


def test_filters_and_sorting_narrow_and_order_the_table(demo: Demo, page: Page, app: AppSessions) -> None:
    plain = app.open_app()
    marked = app.open_app()
    start_sleep(demo, marked, "console_filter_marker")
    sign_in(page, demo)
    expect(session_row(page, plain.id)).to_be_visible()
    expect(session_row(page, marked.id)).to_be_visible()

    page.fill("#flt-info", "console_filter_marker")
    page.press("#flt-info", "Enter")
    expect(page.locator("#page-info")).to_have_attribute("data-total", "1")
    expect(page.locator("#sessions-table tbody tr[data-id]")).to_have_count(1)
    expect(session_row(page, marked.id)).to_be_visible()
    shot(page, "04-filter-by-statement")

    # wildcards and the command filter
    page.click("#filter-clear")
    expect(session_row(page, plain.id)).to_be_visible()
    page.fill("#flt-user", "shop_?pp")
    page.fill("#flt-command", "Query")
    page.click("#filter-apply")
    expect(session_row(page, plain.id)).to_have_count(0)
    expect(session_row(page, marked.id)).to_be_visible()

    # a count bar filters by its value
    page.click("#filter-clear")
    page.locator('#stats-command li[data-name="Sleep"] button').click()
    expect(page.locator("#flt-command")).to_have_value("Sleep")
    expect(session_row(page, marked.id)).to_have_count(0)
    expect(session_row(page, plain.id)).to_be_visible()
    commands = page.locator("#sessions-table tbody tr[data-id] .command-text").all_inner_texts()
    assert commands and set(commands) == {"Sleep"}, commands

    # sorting by id, descending
    page.click("#filter-clear")
    page.click('button.th-sort[data-sort="id"]')
    expect(page.locator('th[aria-sort="descending"] button[data-sort="id"]')).to_be_visible()
    refresh_sessions(page)
    ids = [
        int(i)
        for i in page.locator("#sessions-table tbody tr[data-id]").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]
    assert len(ids) >= 2 and ids == sorted(ids, reverse=True), ids

    # auto-refresh at the chosen interval, and the pause
    page.select_option("#refresh-interval", "2")
    loaded = page.locator("#panel-sessions")
    first = loaded.get_attribute("data-loaded")
    expect(loaded).not_to_have_attribute("data-loaded", first or "")
    page.click("#refresh-pause")
    expect(page.locator("#refresh-pause")).to_have_attribute("aria-pressed", "true")
    paused_at = loaded.get_attribute("data-loaded")
    page.wait_for_timeout(4500)
    assert loaded.get_attribute("data-loaded") == paused_at
    page.click("#refresh-pause")
    expect(page.locator("#refresh-pause")).to_have_text("Pause")
    expect(loaded).not_to_have_attribute("data-loaded", paused_at or "")

    # the tabs follow the arrow keys
    page.focus("#tab-sessions")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-tasks")).to_be_focused()
    expect(page.locator("#tab-tasks")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-tasks")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#panel-sessions")).to_be_visible()


def api_calls(page: Page, kind: str) -> list[dict[str, Any]]:
    """The recorded calls of one kind: the session table's pages, or the kill task list."""
    wanted = {
        "sessions": "c => c.url.includes('/processes?') && c.url.includes('stats=true')",
        "tasks": "c => c.url.includes('/kill-tasks?')",
        "limiting": "c => c.url.endsWith('/auto-sql-limiting/log')",
    }[kind]
    calls: list[dict[str, Any]] = page.evaluate(f"window.apiCalls.filter({wanted})")
    return calls


def overlapping(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    ordered = sorted(calls, key=lambda c: c["start"])
    return [(a["url"], b["url"]) for a, b in pairwise(ordered) if a["end"] is None or b["start"] < a["end"]]


def test_auto_refresh_never_overlaps_and_stops_off_screen_and_after_sign_out(demo: Demo, page: Page) -> None:
    page.add_init_script(RECORD_API_CALLS)
    sign_in(page, demo)
    page.select_option("#refresh-interval", "2")
    refresh_sessions(page)

    # slow answers and an impatient user: the loads queue instead of running side by side
    page.evaluate("window.apiDelay = 700")
    for _ in range(3):
        page.click("#refresh-now")
    page.wait_for_timeout(2500)
    page.evaluate("window.apiDelay = 0")
    refresh_sessions(page)
    sessions = api_calls(page, "sessions")
    assert len(sessions) >= 3 and overlapping(sessions) == [], sessions

    # another tab shown: the session table asks nothing, the kill task list refreshes every 2 s
    page.click("#tab-tasks")
    expect(page.locator("#tasks-list table")).to_be_visible()
    page.wait_for_timeout(800)  # a load under way when the tab changed may still end
    asked = len(api_calls(page, "sessions"))
    tasks_before = len(api_calls(page, "tasks"))
    page.wait_for_timeout(2500)
    assert len(api_calls(page, "sessions")) == asked
    tasks = api_calls(page, "tasks")
    assert len(tasks) > tasks_before and overlapping(tasks) == [], tasks

    # back to the sessions: they refresh again, the kill task list stops
    page.click("#tab-sessions")
    refresh_sessions(page)
    page.wait_for_timeout(800)
    tasks_asked = len(api_calls(page, "tasks"))
    page.wait_for_timeout(2500)
    assert len(api_calls(page, "tasks")) == tasks_asked
    assert len(api_calls(page, "sessions")) > asked

    # signed out: no view asks anything any more
    page.click("#sign-out")
    expect(page.locator("#signin-view")).to_be_visible()
    page.wait_for_timeout(800)
    after_sign_out = page.evaluate("window.apiCalls.length")
    page.wait_for_timeout(2500)
    assert page.evaluate("window.apiCalls.length") == after_sign_out


def test_every_id_on_the_console_is_unique(demo: Demo, page: Page) -> None:
    """A label finds its control by id: of two elements with one id, the second is never labelled."""
    sign_in(page, demo)
    for tab in ("tasks", "intelligent", "limiting", "audit", "sessions"):
        page.click(f"#tab-{tab}")
        expect(page.locator(f"#panel-{tab}")).to_be_visible()
    repeated = page.evaluate(
        """() => {
          const seen = {};
          for (const e of document.querySelectorAll('[id]')) seen[e.id] = (seen[e.id] || 0) + 1;
          return Object.keys(seen).filter((id) => seen[id] > 1);
        }"""
    )
    assert repeated == []


# -- kills -------------------------------------------------------------------------------------------
def test_kill_connection_shows_the_dry_run_then_the_outcome(demo: Demo, page: Page, app: AppSessions) -> None:
    victim = app.open_app()
    bystander = app.open_app()
    sign_in(page, demo)
    select_rows(page, victim.id)
    dialog = kill_dialog(page)

    # Escape cancels: nothing is killed and the selection stays
    page.click("#kill-connection")
    expect(outcome_of(dialog, victim.id, "would_kill")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator("#kill-connection")).to_be_focused()
    expect(page.locator("#selection-count")).to_have_text("1 selected")
    assert demo.thread_exists(victim.id)

    page.click("#kill-connection")
    expect(outcome_of(dialog, victim.id, "would_kill")).to_be_visible()
    expect(page.locator("#kill-confirm")).to_have_text("Kill 1 connection(s)")
    assert demo.thread_exists(victim.id), "a dry run must not kill"
    shot(page, "05-kill-connection-confirmation")

    page.click("#kill-confirm")
    expect(outcome_of(dialog, victim.id, "killed")).to_be_visible()
    shot(page, "06-kill-connection-outcome")
    assert not demo.thread_exists(victim.id)
    assert not victim.alive()
    assert bystander.alive() and demo.thread_exists(bystander.id)

    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(session_row(page, victim.id)).to_have_count(0)
    expect(session_row(page, bystander.id)).to_be_visible()


def test_kill_query_stops_the_statement_and_keeps_the_connection(
    demo: Demo, page: Page, app: AppSessions
) -> None:
    busy = app.open_app()
    start_sleep(demo, busy, "console_kill_query")
    sign_in(page, demo)
    select_rows(page, busy.id)
    page.click("#kill-query")

    dialog = kill_dialog(page)
    expect(outcome_of(dialog, busy.id, "would_kill")).to_be_visible()
    expect(dialog).to_contain_text("the connection stays open")
    # the confirmation has the focus once the preview is in: Enter confirms
    expect(page.locator("#kill-confirm")).to_be_focused()
    page.keyboard.press("Enter")
    expect(outcome_of(dialog, busy.id, "killed")).to_be_visible()
    shot(page, "07-kill-query-outcome")

    busy.join()
    assert demo.thread_exists(busy.id)
    assert busy.execute("SELECT 1") == ((1,),)
    page.click("#kill-close")
    expect(dialog).to_have_count(0)
    refresh_sessions(page)
    expect(session_row(page, busy.id).locator(".command-text")).to_have_text("Sleep")


def test_kill_by_filter_previews_then_kills_the_matching_sessions(
    demo: Demo, page: Page, app: AppSessions
) -> None:
    victims = [app.open_app(), app.open_app()]
    for session in victims:
        start_sleep(demo, session, "console_kbf_marker")
    bystander = app.open_app()
    sign_in(page, demo)
    page.click("#kill-by-filter")
    dialog = page.locator("dialog.kbf-dialog")
    expect(dialog).to_be_visible()

    # an empty filter is refused by the API, and the console says so with the code
    page.click("#kbf-preview")
    expect(dialog.locator(".banner.error")).to_contain_text("DBS.200001: Parameter error.")
    expect(dialog.locator(".banner.error")).to_contain_text("filter needs at least one criterion")

    page.fill("#kbf-info", "console_kbf_marker")
    page.press("#kbf-info", "Enter")
    for session in victims:
        expect(outcome_of(dialog, session.id, "would_kill")).to_be_visible()
    expect(dialog.locator("tr[data-id]")).to_have_count(2)
    assert all(demo.thread_exists(s.id) for s in victims)
    shot(page, "08-kill-by-filter-confirmation")

    page.click("#kbf-confirm")
    for session in victims:
        expect(outcome_of(dialog, session.id, "killed")).to_be_visible()
    shot(page, "09-kill-by-filter-outcome")
    for session in victims:
        session.join()
        assert not demo.thread_exists(session.id)
    assert bystander.alive()


def test_a_read_only_user_sees_no_kill_controls(demo: Demo, page: Page, app: AppSessions) -> None:
    idle = app.open_app()
    busy = app.open_app()
    start_sleep(demo, busy, "console_readonly")
    holder = app.open_app()
    waiter = app.open_app()
    holder.execute("START TRANSACTION")
    holder.execute("UPDATE orders SET amount = amount + 1 WHERE id = 2")
    waiter.execute("SET SESSION innodb_lock_wait_timeout = 120")
    waiter.run_async("UPDATE orders SET amount = amount + 1 WHERE id = 2")
    eventually(
        lambda: lock_waiting(demo, waiter.id),
        timeout=15,
        interval=INNODB_CACHE_POLL,
        message="the second update to wait",
    )

    sign_in(page, demo, "readonly_user")
    expect(session_row(page, idle.id)).to_be_visible()
    expect(session_row(page, busy.id)).to_be_visible()
    expect(page.locator("#readonly-note")).to_be_visible()
    for control in ("#kill-toolbar", "#kill-connection", "#kill-query", "#kill-by-filter", "#select-page"):
        expect(page.locator(control)).to_have_count(0)
    expect(page.locator("#sessions-table input.row-select")).to_have_count(0)
    shot(page, "10-read-only-user")

    # the lock-wait view shows the blocker, without the kill-blocker action
    session_row(page, waiter.id).locator("button.lock-wait").click()
    dialog = page.locator("dialog.lock-dialog")
    settle(dialog, "#lock-blocker-pid", ".banner.error")
    expect(dialog.locator("#lock-blocker-pid")).to_have_text(str(holder.id))
    expect(dialog.locator("#lock-kill-blocker")).to_have_count(0)
    expect(dialog.locator("#lock-kill-root")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # the role may list kill tasks but not create or stop them, and may not read the audit trail
    expect(page.locator("#tab-audit")).to_be_hidden()
    page.click("#tab-tasks")
    expect(page.locator("#panel-tasks")).to_be_visible()
    expect(page.locator("#task-form")).to_have_count(0)
    expect(page.locator("#panel-tasks button.task-stop")).to_have_count(0)
    assert demo.thread_exists(idle.id) and demo.thread_exists(busy.id) and demo.thread_exists(holder.id)


def test_sign_out_and_a_dead_token_send_you_back_to_sign_in(demo: Demo, page: Page) -> None:
    sign_in(page, demo)
    token = page.evaluate(f"JSON.parse(sessionStorage.getItem('{AUTH_KEY}')).token")
    page.click("#sign-out")
    expect(page.locator("#signin-view")).to_be_visible()
    expect(page.locator("#app-view")).to_be_hidden()
    assert page.evaluate(f"sessionStorage.getItem('{AUTH_KEY}')") is None
    # signing out revoked the token on the server: a copy of it is worth nothing now
    project = demo.manifest["project_id"]
    copied = httpx.get(f"{demo.endpoint}/v3/{project}/instances", headers={"X-Auth-Token": token})
    assert copied.status_code == 401 and copied.json()["error_code"] == "APIGW.0307"
    expect(page.locator("#signin-user")).to_have_value(demo.manifest["user"]["name"])
    expect(page.locator("#signin-password")).to_have_value("")

    # a token the service no longer accepts: the next call sends the user to sign in
    sign_in(page, demo, open_first=False)
    page.evaluate(
        """key => {
          const saved = JSON.parse(sessionStorage.getItem(key));
          saved.token = 'not-a-valid-token';
          sessionStorage.setItem(key, JSON.stringify(saved));
        }""",
        AUTH_KEY,
    )
    refresh_unless_gone(page)
    expect(page.locator("#signin-view")).to_be_visible()
    expect(page.locator("#signin-notice")).to_contain_text("Sign in again")
    expect(page.locator("#signin-notice")).to_contain_text("APIGW.0301")
    assert page.evaluate(f"sessionStorage.getItem('{AUTH_KEY}')") is None
    shot(page, "11-invalid-token-back-to-sign-in")

    # a token past its end: the console sends no call with it and asks for a new sign-in
    sign_in(page, demo, open_first=False)
    page.evaluate(
        """key => {
          const saved = JSON.parse(sessionStorage.getItem(key));
          saved.expiresAt = new Date(Date.now() - 1000).toISOString();
          sessionStorage.setItem(key, JSON.stringify(saved));
        }""",
        AUTH_KEY,
    )
    refresh_unless_gone(page)
    expect(page.locator("#signin-view")).to_be_visible()
    expect(page.locator("#signin-notice")).to_contain_text("expired")
    assert page.evaluate(f"sessionStorage.getItem('{AUTH_KEY}')") is None

    # ... and one found when the page loads is dropped there
    page.evaluate(
        """key => sessionStorage.setItem(key, JSON.stringify({
          token: 'old', expiresAt: new Date(Date.now() - 1000).toISOString(),
          project: {id: 'p', name: 'p'}, user: {name: 'u', domain: 'd'},
        }))""",
        AUTH_KEY,
    )
    page.reload()
    expect(page.locator("#signin-view")).to_be_visible()
    expect(page.locator("#signin-notice")).to_contain_text("expired")
    assert page.evaluate(f"sessionStorage.getItem('{AUTH_KEY}')") is None

    # wrong credentials: the answer of the sign-in call, with its code
    page.fill("#signin-password", "wrong password")
    page.press("#signin-password", "Enter")
    expect(page.locator("#signin-error")).to_contain_text("401: The username or password is wrong.")
    expect(page.locator("#app-view")).to_be_hidden()


def test_the_console_runs_under_a_strict_content_security_policy(demo: Demo, page: Page) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    served = page.goto(demo.console_url)
    assert served is not None and served.headers["content-security-policy"] == STRICT_CSP

    sign_in(page, demo)
    # the demo's own sessions are counted: the bars are drawn, with the widths the policy lets through
    bar = page.locator("#stats-user li.bar-row .bar-fill").first
    expect(bar).to_be_visible()
    assert bar.evaluate("e => e.style.width").endswith("%")
    page.click("#kill-by-filter")
    expect(page.locator("dialog.kbf-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    page.click("#tab-tasks")
    expect(page.locator("#tasks-list table")).to_be_visible()
    page.click("#tab-limiting")  # gauges and bars sized through the CSSOM, a timeline drawn in SVG
    expect(page.locator("#limit-timeline svg line.tl-now")).to_be_attached()
    page.click("#tab-audit")
    expect(page.locator("#audit-list table")).to_be_visible()
    with page.expect_download() as download:  # a blob: link, which the policy leaves alone
        page.click("#audit-download-csv")
    assert Path(download.value.path()).read_text().startswith(CSV_HEADER)
    page.click("#tab-sessions")
    refresh_sessions(page)
    shot(page, "20-strict-content-security-policy")
    assert page.evaluate("window.cspViolations") == []
    assert refused == []

    # the policy was in force: a style attribute is refused, and that is seen
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_function("window.cspViolations.length === 1")
    assert "style-src" in page.evaluate("window.cspViolations[0]")


# -- languages ---------------------------------------------------------------------------------------
def test_chinese_switch_changes_labels_and_api_error_messages(demo: Demo, page: Page) -> None:
    sign_in(page, demo)
    expect(page.locator("#tab-sessions")).to_have_text("Sessions")
    page.fill("#flt-min_time", "-1")
    with page.expect_request(lambda r: "/processes?" in r.url) as english:
        page.press("#flt-min_time", "Enter")
    assert english.value.headers.get("x-language") == "en-us"
    expect(page.locator("#sessions-error")).to_contain_text("DBS.200001: Parameter error.")

    page.select_option("#language", "zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#tab-sessions")).to_have_text("会话")
    expect(page.locator("#tab-tasks")).to_have_text("终止任务")
    expect(page.locator("#sign-out")).to_have_text("退出登录")
    expect(page.locator("#filter-apply")).to_have_text("应用")
    expect(page.locator('button.th-sort[data-sort="user"]')).to_have_text("用户")
    expect(page.locator('label[for="flt-info"]')).to_have_text("语句包含")
    expect(page.locator("#kill-connection")).to_have_text("终止连接")
    expect(page.locator("#node-select option").first).to_contain_text("主节点")
    expect(page.locator("#flt-user")).to_have_attribute("placeholder", "例如 app_*")

    with page.expect_request(lambda r: "/processes?" in r.url) as chinese:
        page.press("#flt-min_time", "Enter")
    assert chinese.value.headers.get("x-language") == "zh-cn"
    expect(page.locator("#sessions-error")).to_contain_text("DBS.200001: 参数错误。")
    shot(page, "12-chinese-labels-and-error")

    # the kill-by-filter dialog in Chinese, with the API's Chinese error
    page.click("#kill-by-filter")
    dialog = page.locator("dialog.kbf-dialog")
    expect(dialog.locator("h2")).to_have_text("按条件终止")
    page.click("#kbf-preview")
    expect(dialog.locator(".banner.error")).to_contain_text("DBS.200001: 参数错误。")
    shot(page, "13-chinese-kill-by-filter-error")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # every label on every view has its Chinese text
    for tab in ("tasks", "limiting", "audit", "sessions"):
        page.click(f"#tab-{tab}")
    expect(page.locator("#limit-form")).to_be_attached()
    unknown = page.evaluate(
        """async () => {
          const { dictionaries } = await import('/console/static/js/i18n.js');
          const used = new Set([...document.querySelectorAll('[data-i18n]')].map(e => e.dataset.i18n));
          for (const e of document.querySelectorAll('[data-i18n-attr]')) {
            for (const [key] of Object.values(JSON.parse(e.dataset.i18nAttr))) used.add(key);
          }
          return [...used].filter(k => !(k in dictionaries.zh) || !(k in dictionaries.en));
        }"""
    )
    assert unknown == [], unknown

    # the language is kept for the sign-in page, and switching back restores English
    page.click("#sign-out")
    expect(page.locator("#signin-submit")).to_have_text("登录")
    expect(page.locator('label[for="signin-password"]')).to_have_text("密码")
    page.select_option("#language", "en")
    expect(page.locator("#signin-submit")).to_have_text("Sign in")


def test_both_dictionaries_have_exactly_the_same_keys(demo: Demo, page: Page) -> None:
    open_console(page, demo)
    keys = page.evaluate(
        """async () => {
          const en = (await import('/console/static/js/i18n/en.js')).default;
          const zh = (await import('/console/static/js/i18n/zh.js')).default;
          return { en: Object.keys(en), zh: Object.keys(zh) };
        }"""
    )
    assert keys["en"], "the English dictionary is empty"
    assert sorted(set(keys["en"]) - set(keys["zh"])) == [], "English keys without a Chinese text"
    assert sorted(set(keys["zh"]) - set(keys["en"])) == [], "Chinese keys unknown to English"


# -- endpoints the service is adding: lock wait, kill tasks, audit trail ------------------------------
def test_lock_wait_shows_the_blocker_and_kills_it(demo: Demo, page: Page, app: AppSessions) -> None:
    holder = app.open_app()
    waiter = app.open_app()
    # Row 3: the demo's own idle-in-transaction session keeps row 1 locked (SELECT ... FOR UPDATE).
    holder.execute("START TRANSACTION")
    holder.execute("UPDATE orders SET amount = amount + 1 WHERE id = 3")
    waiter.execute("SET SESSION innodb_lock_wait_timeout = 120")
    waiter.run_async("UPDATE orders SET amount = amount + 1 WHERE id = 3")
    eventually(
        lambda: lock_waiting(demo, waiter.id),
        timeout=15,
        interval=INNODB_CACHE_POLL,
        message="the second update to wait",
    )

    sign_in(page, demo)
    session_row(page, waiter.id).locator("button.lock-wait").click()
    dialog = page.locator("dialog.lock-dialog")
    settle(dialog, "#lock-blocker-pid", ".banner.error")
    expect(dialog.locator("#lock-blocker-pid")).to_have_text(str(holder.id))
    expect(dialog.locator("#lock-summary")).to_contain_text(f"Session {waiter.id} has waited")
    expect(dialog.locator("#lock-blocker")).to_be_visible()
    expect(dialog).to_contain_text("orders")
    shot(page, "14-lock-wait-blocker")

    page.click("#lock-kill-blocker")
    kill = kill_dialog(page)
    expect(outcome_of(kill, holder.id, "would_kill")).to_be_visible()
    page.click("#kill-confirm")
    expect(outcome_of(kill, holder.id, "killed")).to_be_visible()
    waiter.join(30)
    assert waiter.error is None, waiter.error
    assert not demo.thread_exists(holder.id)
    assert demo.thread_exists(waiter.id)
    page.click("#kill-close")
    expect(kill).to_have_count(0)
    expect(dialog.locator("#lock-none")).to_be_visible()
    shot(page, "15-lock-wait-after-killing-the-blocker")


def test_kill_task_is_created_watched_and_stopped(demo: Demo, page: Page, app: AppSessions) -> None:
    bystander = app.open_app()
    early = app.open_app()
    start_sleep(demo, early, "console_task_marker")
    sign_in(page, demo)
    page.click("#tab-tasks")
    # the form's bounds are the API's own, read from its OpenAPI document
    schemas = httpx.get(demo.endpoint + "/openapi.json").json()["components"]["schemas"]
    name_limit = next(s["maxLength"] for s in schemas["CreateKillTaskRequest"]["properties"]["name"]["anyOf"])
    assert page.get_attribute("#task-name", "maxlength") == str(name_limit) == "64"
    assert page.get_attribute("#task-user", "maxlength") == str(
        schemas["ThreadFilter"]["properties"]["user"]["anyOf"][0]["maxLength"]
    )
    page.fill("#task-name", "console-test-task")
    page.fill("#task-info", "console_task_marker")
    page.fill("#task-interval", "1")
    page.fill("#task-duration", "300")
    page.press("#task-name", "Enter")

    # the confirmation says what the task is and what its first pass would kill now
    dialog = page.locator("dialog.task-dialog")
    expect(dialog).to_contain_text('info~"console_task_marker"')
    settle(dialog, f'tr[data-id="{early.id}"] [data-outcome="would_kill"]', ".banner.error")
    expect(dialog.locator("tr[data-id]")).to_have_count(1)
    assert demo.thread_exists(early.id), "the preview must not kill"
    shot(page, "16-kill-task-confirmation")
    page.click("#task-confirm")
    settle(page, "#task-detail[data-state]", "dialog.task-dialog .banner.error")
    expect(dialog).to_have_count(0)
    detail = page.locator("#task-detail")
    expect(detail).to_have_attribute("data-state", "running")
    task_id = detail.get_attribute("data-task-id")
    assert task_id
    expect(page.locator(f'#tasks-list tr[data-task-id="{task_id}"]')).to_be_visible()

    # a session that starts matching later is killed by a later pass
    early.join(30)
    late = app.open_app()
    late.run_async("SELECT SLEEP(300) AS console_task_marker")
    late.join(30)
    for session in (early, late):
        eventually(gone(demo, session.id), timeout=15, interval=0.1, message=f"the task to kill {session.id}")
        expect(detail.locator(f'.victims-table tr[data-id="{session.id}"]')).to_be_visible()
    expect(page.locator("#task-killed")).to_have_text("2")
    shot(page, "17-kill-task-running")

    page.click("#task-stop")
    expect(detail).to_have_attribute("data-state", "stopped")
    expect(page.locator(f'#tasks-list tr[data-task-id="{task_id}"] [data-state="stopped"]')).to_be_visible()
    shot(page, "18-kill-task-stopped")
    assert bystander.alive()


def test_audit_trail_filters_pages_and_downloads(demo: Demo, page: Page, app: AppSessions) -> None:
    victim = app.open_app()
    sign_in(page, demo)
    # the CSV builder the download uses gives a spreadsheet no formula to run
    cells = page.evaluate(
        """async () => {
          const { toCsv } = await import('/console/static/js/audit.js');
          return toCsv([{ actor_name: '=HYPERLINK("x")', source_ip: '+1', action: '@SUM(A1)', mode: '-2',
                          request_id: '\\tcmd', task_id: 'plain' }]).split('\\r\\n')[1];
        }"""
    )
    assert "'=HYPERLINK" in cells and ",'+1," in cells and "'@SUM(A1)" in cells and ",'-2," in cells
    assert "'\tcmd" in cells and ",plain," in cells
    # 21 dry runs first (each is a record), so the trail has more than one page
    statuses = page.evaluate(
        """async ({victim, path}) => {
          const token = JSON.parse(sessionStorage.getItem('taurus.console.auth')).token;
          const out = [];
          for (let i = 0; i < 21; i++) {
            const r = await fetch(path, {
              method: 'POST',
              headers: {'X-Auth-Token': token, 'Content-Type': 'application/json'},
              body: JSON.stringify({processes: [victim], dry_run: true}),
            });
            out.push(r.status);
          }
          return out;
        }""",
        {"victim": victim.id, "path": kill_path(demo)},
    )
    assert set(statuses) == {200}
    # then a real kill through the console: the newest record
    select_rows(page, victim.id)
    page.click("#kill-connection")
    expect(outcome_of(kill_dialog(page), victim.id, "would_kill")).to_be_visible()
    page.click("#kill-confirm")
    expect(outcome_of(kill_dialog(page), victim.id, "killed")).to_be_visible()
    page.click("#kill-close")
    assert not demo.thread_exists(victim.id)

    page.click("#tab-audit")
    page.fill("#audit-action", "killProcesses")
    page.select_option("#audit-outcome", "ok")
    page.press("#audit-action", "Enter")
    settle(page, "#audit-list table.audit-table", "#audit-error")
    rows = page.locator("#audit-list table.audit-table > tbody > tr[data-event-id]")
    expect(rows).to_have_count(20)
    newest = rows.first
    event_id = newest.get_attribute("data-event-id")
    newest.locator("button.results-toggle").click()
    results = page.locator(f"#audit-results-{event_id}")
    expect(results.locator(f'tr[data-id="{victim.id}"] [data-outcome="killed"]')).to_be_visible()
    expect(results).to_contain_text(demo.manifest["app_account"]["user"])
    total = int(page.locator("#audit-page-info").get_attribute("data-total") or 0)
    assert total >= 23  # 2 dry runs + 21 dry runs + the kill, at least
    shot(page, "19-audit-trail")
    page.click("#audit-next")
    expect(page.locator("#audit-page-info")).to_contain_text(f"21–{min(40, total)} of {total}")

    with page.expect_download() as jsonl_download:
        page.click("#audit-download-jsonl")
    lines = Path(jsonl_download.value.path()).read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == total
    assert {e["action"] for e in events} == {"killProcesses"}
    assert jsonl_download.value.suggested_filename.endswith(".jsonl")
    real = [e for e in events if not e["dry_run"]]
    assert any(r["id"] == victim.id and r["outcome"] == "killed" for e in real for r in e["results"]), (
        "the kill is in the download"
    )

    with page.expect_download() as csv_download:
        page.click("#audit-download-csv")
    text = Path(csv_download.value.path()).read_text()
    assert text.splitlines()[0] == CSV_HEADER
    records = list(csv.DictReader(io.StringIO(text)))
    assert len(records) == total
    assert {r["id"] for r in records} == {str(e["id"]) for e in events}
    killed = next(r for r in records if r["dry_run"] == "False" and str(victim.id) in r["results"])
    assert json.loads(killed["results"])[0]["outcome"] == "killed"


def kill_path(demo: Demo) -> str:
    m: dict[str, Any] = demo.manifest
    node = demo.node("master")["node_id"]
    return f"/v3/{m['project_id']}/instances/{m['instance_id']}/nodes/{node}/processes/kill"


# -- TaurusDB's Intelligent Diagnosis (last: they act on everything running on the demo's node) ----------
def test_intelligent_kill_shows_the_groups_and_kills_them_after_a_confirmation(
    demo: Demo, page: Page, app: AppSessions
) -> None:
    # beside the demo's own long report statement: each of these ranks in the top three by count
    groups = {"intel_report": 3, "intel_export": 2, "intel_sync": 2}
    members: dict[str, list[int]] = {}
    for group, count in groups.items():
        for copy in range(count):
            session = app.open_app()
            session.run_async(f"SELECT SLEEP({200 + copy}) AS {group}, 'copy {copy}' AS copy")
            members.setdefault(group, []).append(session.id)
    eventually(
        lambda: all(command_of(demo, i) == "Query" for ids in members.values() for i in ids),
        message="the statements",
    )
    bystander = app.open_app()
    sign_in(page, demo)
    page.click("#tab-intelligent")
    settle(page, "#intel-groups table.intel-table", "#intel-error")
    for group in groups:
        expect(page.locator("#intel-groups")).to_contain_text(f"SELECT SLEEP(?) AS {group}, ? AS copy")
    count_bars = page.locator('#intel-groups tr[data-strategy="top3_count"] .bar-fill')
    expect(count_bars.first).to_be_visible()
    assert count_bars.first.evaluate("e => e.style.width").endswith("%")
    shot(page, "21-intelligent-kill-groups")

    page.click("#intel-run")
    dialog = page.locator("dialog.intel-dialog")
    expect(dialog).to_contain_text("SELECT SLEEP(?) AS intel_report, ? AS copy")
    shot(page, "22-intelligent-kill-confirmation")
    page.click("#intel-confirm")
    settle(page, "#intel-notice:not([hidden])", "#intel-error")
    task_id = page.locator("#intel-notice").get_attribute("data-task-id")
    assert task_id
    killed = [thread_id for ids in members.values() for thread_id in ids]
    eventually(lambda: not any(demo.thread_exists(t) for t in killed), message="the groups to be killed")
    assert demo.thread_exists(bystander.id)  # idle: never grouped
    row = page.locator(f'#intel-history tr[data-task-id="{task_id}"]')
    expect(row).to_be_visible()
    with page.expect_download() as fetched:
        row.locator("button").click()
    text = Path(fetched.value.path()).read_text()
    assert text.startswith("task_id,") and all(str(i) in text for ids in members.values() for i in ids)
    shot(page, "23-intelligent-kill-done")


def test_a_snapshot_of_the_sessions_is_collected_and_downloaded(
    demo: Demo, page: Page, app: AppSessions
) -> None:
    first, second = app.open_app(), app.open_app()
    start_sleep(demo, first, "snapshot_marker")
    start_sleep(demo, second, "snapshot_marker")
    bystander = app.open_app()
    sign_in(page, demo, "readonly_user")  # a read: the read-only role may collect
    page.click("#snapshot-open")
    dialog = page.locator("dialog.snapshot-dialog")
    expect(dialog).to_be_visible()
    page.fill("#snap-threshold", "0")  # the API's own error, shown as it came
    page.click("#snap-collect")
    expect(dialog.locator("#snap-error")).to_contain_text("DBS.200001")
    page.select_option("#snap-filter", "active")
    page.fill("#snap-threshold", "10")
    page.fill("#snap-sql-key", "SNAPSHOT_MARKER")
    page.select_option("#snap-sort", "id")
    page.select_option("#snap-dir", "desc")
    shot(page, "26-snapshot-dialog")
    page.click("#snap-collect")
    expect(dialog.locator("#snap-status")).to_have_attribute("data-state", "finished")
    expect(dialog.locator("#snap-error")).to_be_hidden()
    request_id = dialog.get_attribute("data-request-id")
    with page.expect_download() as fetched:
        page.click("#snap-download")
    assert (
        fetched.value.suggested_filename
        == f"realtime-session-{demo.node('master')['node_id']}-{request_id}.csv"
    )
    rows = list(csv.DictReader(io.StringIO(Path(fetched.value.path()).read_text())))
    assert [int(row["id"]) for row in rows] == sorted([first.id, second.id], reverse=True)
    assert bystander.id not in {int(row["id"]) for row in rows}
    assert all(row["info"].endswith("snapshot_marker") for row in rows)
    shot(page, "27-snapshot-collected")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)


def test_automatic_kill_tasks_sit_beside_the_kill_tasks(demo: Demo, page: Page, app: AppSessions) -> None:
    sign_in(page, demo)
    page.click("#tab-tasks")
    expect(page.locator("#auto-switch-state")).to_have_attribute("data-state", "OFF")
    page.click("#auto-switch")
    expect(page.locator("#auto-switch-state")).to_have_attribute("data-state", "ON")
    victim = app.open_app()
    start_sleep(demo, victim, "auto_kill_marker")
    page.fill("#auto-info", "auto_kill_marker")
    page.fill("#auto-time", "1")
    page.fill("#auto-duration", "120")
    page.click("#auto-add")
    settle(page, '#auto-list tr[data-task-id] [data-state="running"]', "#auto-error")
    eventually(lambda: not demo.thread_exists(victim.id), message="the automatic task to kill its victim")
    expect(page.locator("#auto-list tr[data-task-id] td.num").last).not_to_have_text("0")
    shot(page, "24-automatic-kill-task-running")
    page.locator("#auto-list button.auto-stop").first.click()
    expect(page.locator('#auto-list tr[data-task-id] [data-state="stopped"]')).to_be_visible()
    page.click("#auto-switch")
    expect(page.locator("#auto-switch-state")).to_have_attribute("data-state", "OFF")
    shot(page, "25-automatic-kill-switched-off")


# -- autonomous SQL limiting (last: its limits stop statements on the demo's primary) -------------------
LIMITED = "SELECT~SLEEP~AS~limit_marker"


def limiting_call(demo: Demo, method: str, path: str, body: Any = None) -> httpx.Response:
    """A call of the demo's admin under the instance (set-up and clean-up behind the page's back)."""
    m: dict[str, Any] = demo.manifest
    with httpx.Client(base_url=demo.endpoint, timeout=30) as http:
        who = m["user"]
        admin = token_body(who["name"], who["password"], m["domain"], project_name=m["project_name"])
        signed = http.post("/v3/auth/tokens", json=admin)
        headers = {"X-Auth-Token": signed.headers["X-Subject-Token"]}
        return http.request(
            method, f"/v3/{m['project_id']}/instances/{m['instance_id']}{path}", json=body, headers=headers
        )


def limiting_rules(demo: Demo) -> list[dict[str, Any]]:
    shown = limiting_call(demo, "POST", "/auto-sql-limiting", {"node_ids": [demo.node("master")["node_id"]]})
    assert shown.status_code == 200, shown.text
    rules: list[dict[str, Any]] = shown.json()["auto_sql_limiting_rules"]
    return rules


def switch_limiting_off(demo: Demo) -> None:
    node = demo.node("master")["node_id"]
    answer = limiting_call(demo, "DELETE", f"/nodes/{node}/auto-sql-limiting")
    assert answer.status_code == 200 or answer.json()["error_code"] == "DBS.280417", answer.text


def fill_rule(page: Page, **fields: str) -> None:
    for name, value in fields.items():
        if name == "condition":
            page.select_option("#limit-condition", value)
        else:
            page.fill(f"#limit-{name.replace('_', '-')}", value)


def test_sql_limiting_is_switched_on_fires_changes_and_is_switched_off(
    demo: Demo, page: Page, app: AppSessions
) -> None:
    switch_limiting_off(demo)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.method) if r.url.endswith("/auto-sql-limiting") else None)
    try:
        sign_in(page, demo)
        page.click("#tab-limiting")
        settle(page, "#limit-off-note:not([hidden])", "#limit-error")
        expect(page.locator("#limit-seen")).to_be_hidden()
        expect(page.locator("#limit-save")).to_have_text("Switch on")
        expect(page.locator("#limit-switch-off")).to_be_hidden()

        # the form's bounds are the API's own, and a rule outside them is never sent
        schema = httpx.get(demo.endpoint + "/openapi.json").json()["components"]["schemas"]
        bounds = schema["AutoSqlLimitingRuleModel"]["properties"]
        assert page.get_attribute("#limit-cpu-usage", "min") == str(bounds["cpu_usage"]["minimum"]) == "70"
        most = bounds["active_sessions"]["maximum"]
        assert page.get_attribute("#limit-active-sessions", "max") == str(most) == "5000"
        assert page.get_attribute("#limit-duration", "min") == str(bounds["duration"]["minimum"])
        fill_rule(page, start_time="24:00", cpu_usage="50")
        page.click("#limit-save")
        problems = page.locator("#limit-form-error")
        expect(problems).to_contain_text("From (hh:mm): a time as hh:mm")
        expect(problems).to_contain_text("CPU usage ≥ (%): a whole number from 70 to 100")
        expect(page.locator("#limit-cpu-usage")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#limit-start-time")).to_be_focused()
        shot(page, "26-sql-limiting-off-and-a-rule-out-of-bounds")
        assert "PUT" not in sent

        # switched on from the keyboard: the demo's primary has fewer than 3 statements running
        fill_rule(
            page,
            start_time="00:00",
            end_time="23:59",
            condition="or",
            cpu_usage="90",
            active_sessions="3",
            duration="2",
            clear_time="120",
            max_concurrency="1",
        )
        page.press("#limit-max-concurrency", "Enter")
        settle(page, "#limit-seen:not([hidden])", "#limit-error")
        expect(problems).to_be_hidden()
        expect(page.locator("#limit-notice")).to_contain_text("Autonomous SQL limiting is on (job ")
        expect(page.locator("#limit-minute-warning")).to_contain_text("One minute of a rule is 1 s")
        expect(page.locator("#limit-save")).to_have_text("Save")
        expect(page.locator("#limit-state")).to_have_attribute("data-state", "watching")
        cpu = page.locator("#limit-gauge-cpu")
        expect(cpu).to_have_attribute("data-condition", "unknown")
        expect(cpu.locator(".gauge-value")).to_have_text("unknown")
        note = re.compile(r"only an 'or' rule can fire .*alone\)\.$")
        expect(page.locator("#limit-note")).to_have_text(note)
        expect(page.locator("#limit-note .never")).to_have_count(0)
        sessions_gauge = page.locator("#limit-gauge-sessions")
        expect(sessions_gauge).to_have_attribute("data-condition", "not_met")
        expect(sessions_gauge.locator(".gauge-mark-label")).to_have_text("threshold 3")
        for gauge in (cpu, sessions_gauge):
            assert gauge.locator(".gauge-mark").evaluate("e => e.style.left").endswith("%")
        [rule] = limiting_rules(demo)
        assert (rule["active_sessions"], rule["max_concurrency"], rule["clear_time"]) == (3, 1, 120)
        shot(page, "27-sql-limiting-watching")

        # three executions of one SELECT: the rule fires after two (one-second) minutes, and the
        # limit keeps one of them running
        burst = [app.open_app() for _ in range(3)]
        for session in burst:
            session.run_async("SELECT SLEEP(300) AS limit_marker")
        in_force = page.locator(f'#limit-active tr[data-pattern="{LIMITED}"]')
        expect(in_force).to_be_visible()
        expect(page.locator("#limit-state")).to_have_attribute("data-state", "limiting")
        eventually(
            lambda: sum(command_of(demo, s.id) == "Query" for s in burst) == 1,
            message="the limit to stop all but one execution",
        )
        expect(in_force.locator("td.num").last).to_have_text("2")
        expect(in_force.locator(".countdown")).to_have_text(re.compile(r"^in (\d+m )?\d+s$"))
        expect(in_force).to_contain_text("SELECT SLEEP(?) AS limit_marker")
        # the log as a table and as a timeline: a bar per limit, the one in force highlighted
        logged = page.locator("#limit-log tr[data-create-at]")
        expect(logged).to_have_count(1)
        expect(logged.first).to_have_attribute("data-state", "in-force")
        bars = page.locator("#limit-timeline svg rect.tl-bar")
        expect(bars).to_have_count(1)
        expect(page.locator("#limit-timeline rect.tl-bar.in-force")).to_have_count(1)
        expect(bars.first).to_have_attribute("aria-label", re.compile(f"^{re.escape(LIMITED)}: in force "))
        assert bars.first.get_attribute("data-create-at") == logged.first.get_attribute("data-create-at")
        expect(page.locator("#limit-timeline line.tl-now")).to_have_count(1)
        shot(page, "28-sql-limiting-limiting")

        page.select_option("#language", "zh")
        expect(page.locator("#tab-limiting")).to_have_text("SQL限流")
        expect(page.locator("#limit-state")).to_have_text("限流中")
        expect(page.locator("#limit-timeline text.tl-now-label")).to_have_text("现在")
        expect(bars.first).to_have_attribute("aria-label", re.compile("：生效中 "))
        expect(page.locator("#limit-gauge-cpu .gauge-value")).to_have_text("未知")
        shot(page, "29-sql-limiting-chinese")
        page.select_option("#language", "en")
        expect(page.locator("#limit-state")).to_have_text("limiting")

        # a change starts the rule over: the limit it made ends early
        page.fill("#limit-max-concurrency", "2")
        page.click("#limit-save")
        expect(page.locator("#limit-notice")).to_contain_text("it starts over")
        expect(page.locator("#limit-active td.empty")).to_have_text("No limit in force.")
        expect(logged.first).to_have_attribute("data-state", "ended-early")
        expect(page.locator("#limit-timeline rect.tl-bar.ended-early")).to_have_count(1)
        expect(page.locator("#limit-timeline path.tl-cut")).to_have_count(1)
        expect(page.locator("#limit-timeline rect.tl-bar.in-force")).to_have_count(0)
        assert limiting_rules(demo)[0]["max_concurrency"] == 2
        shot(page, "30-sql-limiting-changed")

        # switched off after a confirmation (Escape keeps the rule)
        page.click("#limit-switch-off")
        dialog = page.locator("dialog.limit-off-dialog")
        expect(dialog).to_contain_text("The log is kept.")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        assert limiting_rules(demo)
        page.click("#limit-switch-off")
        shot(page, "31-sql-limiting-switch-off-confirmation")
        page.click("#limit-off-confirm")
        expect(dialog).to_have_count(0)
        expect(page.locator("#limit-notice")).to_contain_text("Switched off")
        expect(page.locator("#limit-off-note")).to_be_visible()
        expect(page.locator("#limit-seen")).to_be_hidden()
        expect(logged).to_have_count(1)  # the log stays
        assert limiting_rules(demo) == []
        shot(page, "32-sql-limiting-switched-off")

        # an error of the API is shown with its code and request id: switched off meanwhile
        page.click("#limit-save")
        expect(page.locator("#limit-switch-off")).to_be_visible()
        page.click("#limit-switch-off")
        switch_limiting_off(demo)
        page.click("#limit-off-confirm")
        expect(dialog.locator(".banner.error")).to_contain_text("DBS.280417: ")
        expect(dialog.locator(".banner.error")).to_contain_text("(request ")
        page.keyboard.press("Escape")
        expect(page.locator("#limit-off-note")).to_be_visible()
    finally:
        switch_limiting_off(demo)


def test_sql_limiting_read_only_and_on_a_replica(demo: Demo, page: Page) -> None:
    rule = {
        "node_id": demo.node("master")["node_id"],
        "start_time": "08:00",
        "end_time": "20:00",
        "condition": "and",
        "cpu_usage": 95,
        "active_sessions": 4000,
        "clear_time": 10,
        "duration": 5,
        "max_concurrency": 20,
        "retain_sql_rule": True,
    }
    answer = limiting_call(demo, "PUT", "/auto-sql-limiting", {"auto_sql_limiting_rules": [rule]})
    assert answer.status_code == 200, answer.text
    page.add_init_script(RECORD_API_CALLS)
    try:
        sign_in(page, demo, "readonly_user")
        page.click("#tab-limiting")
        settle(page, "#limit-rule-facts", "#limit-error")
        # an 'and' rule without a CPU source can never fire: the page says so
        expect(page.locator("#limit-note .never")).to_contain_text("cannot fire until the node has a CPU")
        facts = page.locator("#limit-rule-facts")
        expect(facts).to_contain_text("08:00 – 20:00")
        expect(facts).to_contain_text("and (both)")
        expect(facts).to_contain_text("4000")
        for control in ("#limit-form", "#limit-save", "#limit-switch-off", "#limit-max-concurrency"):
            expect(page.locator(control)).to_have_count(0)
        expect(page.locator("#limit-seen")).to_be_visible()
        expect(page.locator(".gauge-join")).to_have_text("and")
        shot(page, "33-sql-limiting-read-only")

        # refreshed through the shared poller: slow answers queue, and another tab stops it
        page.evaluate("window.apiDelay = 700")
        for _ in range(3):
            page.click("#limit-refresh")
        page.wait_for_timeout(2500)
        page.evaluate("window.apiDelay = 0")
        loads = api_calls(page, "limiting")
        assert len(loads) >= 3 and overlapping(loads) == [], loads
        page.click("#tab-sessions")
        page.wait_for_timeout(800)  # a load under way when the tab changed may still end
        asked = len(api_calls(page, "limiting"))
        page.wait_for_timeout(3500)
        assert len(api_calls(page, "limiting")) == asked
        page.click("#tab-limiting")
        expect(page.locator("#limit-rule-facts")).to_be_visible()
        page.wait_for_timeout(3500)
        assert len(api_calls(page, "limiting")) > asked

        page.select_option("#node-select", demo.node("readreplica")["node_id"])
        expect(page.locator("#limit-replica")).to_contain_text("applies to the primary node only")
        for part in ("#limit-seen", "#limit-rule-facts", "#limit-log-section", "#limit-refresh"):
            expect(page.locator(part)).to_be_hidden()
        shot(page, "34-sql-limiting-replica")
        page.click("#limit-to-primary")
        expect(page.locator("#node-badge")).to_have_text("primary")
        expect(page.locator("#node-select")).to_have_value(demo.node("master")["node_id"])
        expect(page.locator("#limit-rule-facts")).to_be_visible()
    finally:
        switch_limiting_off(demo)
