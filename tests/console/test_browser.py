"""The console in a real browser (headless Chromium), in front of a real daemon.

In file order, on one running centre (tests/console/conftest.py): log in; watch the
floor follow the campaign; refuse a cap above the law; download the compliance CSV;
a viewer sees no controls and the endpoint refuses them; a POST without the CSRF token
is refused; pause the campaign and find the engine's acceptance and the audit row.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dialguard.cli.report import CSV_FIELDS
from tests.console.conftest import SUPERVISOR, VIEWER, Floor

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.browser]

DOCS = Path(__file__).resolve().parents[2] / "docs"
T = TypeVar("T")


def until(probe: Callable[[], T | None], within: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; its value."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(0.2)


def by_id(browser: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.ID, element_id)
    return found[0] if found else None


def log_in(browser: Any, floor: Floor, user: tuple[str, str]) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(floor.url + "/login")
    browser.find_element(By.ID, "name").send_keys(user[0])
    browser.find_element(By.ID, "password").send_keys(user[1])
    browser.find_element(By.ID, "login").click()
    until(lambda: by_id(browser, "floor"), 10, "the floor page")


def state_of(browser: Any, element_id: str) -> str | None:
    """An element's data-state, read in one step in the page: the floor replaces its
    rows on every snapshot, so a found element may be gone before it is asked."""
    state: str | None = browser.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.dataset.state : null;",
        element_id,
    )
    return state


def field(browser: Any, campaign: str, name: str) -> int:
    """A number from the live campaign row ("12", "7 /min" → 12, 7; -1: not shown)."""
    text: str | None = browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
        f"#campaign-{campaign} [data-field='{name}']",
    )
    try:
        return int((text or "").split()[0])
    except (IndexError, ValueError):
        return -1


def agent_states(browser: Any) -> list[str]:
    """``agent=state`` for every agent row, read at one instant."""
    rows: list[str] = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.agents tbody tr'))"
        ".map(r => r.id + '=' + r.dataset.state);"
    )
    return rows


def post_from_page(browser: Any, path: str, body: str) -> int:
    """POST from the page's own origin (with its session cookie); the status code."""
    status: int = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', body: new URLSearchParams(arguments[1]),"
        " redirect: 'manual'}).then(r => done(r.status));",
        path,
        body,
    )
    return status


def test_wrong_password_refused_then_login(browser: Any, floor: Floor) -> None:
    from selenium.webdriver.common.by import By

    browser.get(floor.url + "/")
    assert browser.current_url.endswith("/login")  # no page without a session
    browser.find_element(By.ID, "name").send_keys(SUPERVISOR[0])
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login").click()
    assert (
        "wrong user name or password"
        in until(lambda: by_id(browser, "login-error"), 10, "the login error").text
    )
    # the keyboard alone: the name field has focus, Tab to the password, Enter submits
    from selenium.webdriver.common.keys import Keys

    browser.get(floor.url + "/login")
    active = browser.switch_to.active_element
    assert active.get_attribute("id") == "name"
    active.send_keys(SUPERVISOR[0], Keys.TAB)
    browser.switch_to.active_element.send_keys(SUPERVISOR[1], Keys.ENTER)
    until(lambda: by_id(browser, "floor"), 10, "the floor page")
    assert "sue (supervisor)" in browser.page_source
    until(
        lambda: (
            "LIVE"
            in browser.execute_script("return document.getElementById('verdict').textContent")
        ),
        10,
        "the floor to be live",
    )


def test_floor_follows_the_running_campaign(browser: Any, floor: Floor) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, floor, SUPERVISOR)
    until(lambda: field(browser, "demo", "dials") >= 1, 30, "a first dial on the floor")
    first = field(browser, "demo", "dials")
    seen: set[str] = set()

    def changed() -> bool:
        seen.update(agent_states(browser))
        agents = {s.split("=")[0] for s in seen}
        # some agent was seen in two states: the page changed without a reload
        return len(seen) > len(agents) and field(browser, "demo", "dials") > first

    until(changed, 60, "agents to change state and dials to rise, without a reload")
    # how far behind the engine the page is: snapshot time → shown, per update
    lags: list[float] = []

    def lag() -> bool:
        value = browser.execute_script("return document.getElementById('floor').dataset.lag")
        if value:
            lags.append(float(value))
        return len(lags) >= 10

    until(lag, 30, "ten updates of the floor")
    lags.sort()
    print(f"floor lag behind the engine: median {lags[5]:.3f} s, worst {lags[-1]:.3f} s")
    assert lags[5] <= 1.0, lags  # the engine publishes every second; we add ≤ 0.2 s
    assert field(browser, "demo", "connects") >= 1 or field(browser, "demo", "in_flight") >= 1
    assert "LIVE" in browser.execute_script("return document.getElementById('verdict').textContent")
    assert browser.find_elements(By.CSS_SELECTOR, "#campaign-demo meter")  # the cap gauge
    browser.save_screenshot(str(DOCS / "console-floor.png"))


def test_cap_above_the_legal_limit_is_refused_by_the_engine(browser: Any, floor: Floor) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, floor, SUPERVISOR)
    browser.find_element(By.ID, "cap-demo").send_keys("5%")
    browser.find_element(By.ID, "set-pacing-demo").click()
    answer = until(lambda: by_id(browser, "answers"), 15, "the engine's answer").text
    assert "pacing change refused by the engine" in answer
    assert "abandon_cap = 0.05" in answer, answer  # the rule, in the engine's words
    browser.get(floor.url + "/reports/audit?campaign=demo")
    refused = browser.find_elements(By.CSS_SELECTOR, "tr.refused[data-actor='sue']")
    assert refused and "pacing.refused" in refused[0].text


def test_compliance_csv_download(browser: Any, floor: Floor) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, floor, SUPERVISOR)
    browser.get(floor.url + "/reports/compliance?campaign=demo")
    assert by_id(browser, "no-breaches") is not None or by_id(browser, "breaches") is not None
    browser.find_element(By.ID, "csv").click()
    target = floor.downloads / "compliance-demo.csv"
    until(lambda: target.exists() and target.stat().st_size > 0, 20, "the CSV download")
    with target.open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_FIELDS
    assert len(rows) == 2  # one 24 h period
    period = dict(zip(rows[0], rows[1], strict=True))
    assert int(period["attempts"]) >= 1
    assert period["dnc_hits"] == "0" and period["cancelled_before_15s"] == "0"


def test_viewer_sees_no_controls_and_the_endpoint_refuses(browser: Any, floor: Floor) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, floor, VIEWER)
    assert "vic (viewer)" in browser.page_source
    assert by_id(browser, "controls") is None and by_id(browser, "pause-demo") is None
    assert by_id(browser, "viewer-note") is not None
    csrf = browser.find_element(By.CSS_SELECTOR, "form[action='/logout'] input[name=csrf]")
    token = csrf.get_attribute("value")
    assert post_from_page(browser, "/campaigns/demo/control", f"action=pause&csrf={token}") == 403
    assert post_from_page(browser, "/campaigns/demo/pacing", f"mode=predictive&csrf={token}") == 403
    time.sleep(1.5)
    assert state_of(browser, "campaign-demo") in ("running", "blocked")  # nothing changed


def test_post_without_csrf_token_is_refused(browser: Any, floor: Floor) -> None:

    log_in(browser, floor, SUPERVISOR)
    assert post_from_page(browser, "/campaigns/demo/control", "action=pause") == 403
    assert post_from_page(browser, "/campaigns/demo/control", "action=pause&csrf=forged") == 403
    time.sleep(1.5)
    assert state_of(browser, "campaign-demo") in ("running", "blocked")


def test_whatif_draws_the_simulation_with_the_bundled_plotly(browser: Any, floor: Floor) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, floor, SUPERVISOR)
    browser.get(floor.url + "/whatif?campaign=demo")
    browser.find_element(By.ID, "mode").send_keys("predictive")
    browser.find_element(By.ID, "hours").clear()
    browser.find_element(By.ID, "hours").send_keys("1")
    browser.find_element(By.ID, "run").click()
    table = until(lambda: by_id(browser, "whatif-table"), 60, "the simulation's table")
    assert "now: progressive" in table.text and "what if: predictive" in table.text
    # drawn in the browser by plotly.min.js from the plotly package: no CDN
    until(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#whatif-plot .main-svg"),
        20,
        "the plot to be drawn",
    )
    assert browser.execute_script("return typeof Plotly") == "object"


def test_pause_shows_the_engines_acceptance_and_the_audit_row(browser: Any, floor: Floor) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, floor, SUPERVISOR)
    browser.find_element(By.ID, "pause-demo").click()
    answer = until(lambda: by_id(browser, "answers"), 15, "the engine's answer").text
    assert "campaign demo: pause accepted (by sue)" in answer, answer
    until(
        lambda: state_of(browser, "campaign-demo") == "paused",
        10,
        "the floor to show the campaign paused",
    )
    browser.get(floor.url + "/reports/audit?campaign=demo")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.audit tbody tr[data-actor='sue']")
    assert any('"paused"' in r.text and "refused" not in r.text for r in rows), [
        r.text for r in rows
    ]
