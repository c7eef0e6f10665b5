"""The console's routes without a browser (Starlette's test client): the login and its
lock-out, the session gate, CSRF and the viewer's refusal on every change, stale data
marked stale, and the reports (breaches highlighted, filters, formula-escaped CSV) over
a store written the way the engine writes it."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dialguard.config import load_engine_config
from dialguard.console.app import ConsoleState, make_app
from dialguard.console.auth import LOCK_AFTER, UserFile
from dialguard.mqtt.contract import CampaignStatus, EngineStatus
from tests.cli.test_report import ABANDONED_NUMBER, FROM, TO, _fill

SUE = ("sue", "sue's long password")
VIC = ("vic", "vic's long password")


@pytest.fixture
def state(tmp_path: Path) -> ConsoleState:
    config = tmp_path / "dialguard.toml"
    config.write_text(
        '[broker]\nurl = "mqtt://127.0.0.1:1"\ntopic_prefix = "console-unit"\n'
        f'[store]\npath = "{tmp_path / "store.sqlite3"}"\n'
    )
    users = UserFile(tmp_path / "users.json")
    users.add(SUE[0], "supervisor", SUE[1])
    users.add(VIC[0], "viewer", VIC[1])
    return ConsoleState(load_engine_config(config), users)


@pytest.fixture
def client(state: ConsoleState) -> Iterator[TestClient]:
    with TestClient(make_app(state), base_url="http://127.0.0.1") as c:
        yield c


def _hidden(html: str, name: str = "csrf") -> str:
    m = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def log_in(client: TestClient, user: tuple[str, str]) -> str:
    """Log in; the session's CSRF token (from the page's own forms)."""
    page = client.get("/login")
    r = client.post(
        "/login", data={"csrf": _hidden(page.text), "name": user[0], "password": user[1]}
    )
    assert r.status_code == 200 and "Floor" in r.text, r.text[:300]
    return _hidden(r.text)


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/", "/floor", "/reports/compliance", "/reports/audit.csv", "/whatif"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    assert client.get("/floor/stream").status_code == 401
    assert client.post("/campaigns/demo/control", data={"action": "pause"}).status_code == 401


def test_login_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"name": SUE[0], "password": SUE[1]})
    assert r.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303


def test_lock_out_after_repeated_failures_refuses_even_the_right_password(
    client: TestClient,
) -> None:
    token = _hidden(client.get("/login").text)
    for _ in range(LOCK_AFTER):
        r = client.post("/login", data={"csrf": token, "name": "sue", "password": "guess1234"})
        assert r.status_code == 401 and "wrong user name or password" in r.text
    r = client.post("/login", data={"csrf": token, "name": SUE[0], "password": SUE[1]})
    assert r.status_code == 401 and "locked for 300 s" in r.text
    log_in(client, VIC)  # another name is not locked


def test_session_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    token = _hidden(client.get("/login").text)
    r = client.post(
        "/login",
        data={"csrf": token, "name": SUE[0], "password": SUE[1]},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"].lower()
    assert "dg_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.headers["x-frame-options"] == "DENY"  # the controls cannot be framed
    assert page.headers["x-content-type-options"] == "nosniff"


def test_every_change_needs_the_csrf_token(client: TestClient) -> None:
    token = log_in(client, SUE)
    for path, data in (
        ("/campaigns/demo/control", {"action": "pause"}),
        ("/campaigns/demo/pacing", {"abandon_cap": "2%"}),
        ("/logout", {}),
    ):
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf": token + "x"}).status_code == 403, path
    assert client.get("/").status_code == 200  # still logged in: logout was refused too


def test_viewer_has_no_controls_and_is_refused_with_a_valid_token(client: TestClient) -> None:
    token = log_in(client, VIC)
    page = client.get("/").text
    assert 'id="controls"' not in page and "/campaigns/" not in page
    for path, data in (
        ("/campaigns/demo/control", {"action": "pause"}),
        ("/campaigns/demo/pacing", {"mode": "predictive"}),
    ):
        r = client.post(path, data={**data, "csrf": token})
        assert r.status_code == 403 and "viewer" in r.text


def test_bad_control_input_is_refused_before_anything_is_sent(client: TestClient) -> None:
    token = log_in(client, SUE)
    assert (
        client.post(
            "/campaigns/demo/control", data={"action": "explode", "csrf": token}
        ).status_code
        == 400
    )
    assert (
        client.post("/campaigns/a+b/control", data={"action": "pause", "csrf": token}).status_code
        == 400
    )
    r = client.post("/campaigns/demo/pacing", data={"abandon_cap": "lots", "csrf": token})
    assert "pacing change not sent" in r.text and "not a number" in r.text
    r = client.post("/campaigns/demo/pacing", data={"csrf": token})
    assert "nothing to change" in r.text


def test_no_daemon_answer_is_said_not_guessed(client: TestClient) -> None:
    token = log_in(client, SUE)
    r = client.post("/campaigns/demo/control", data={"action": "pause", "csrf": token})
    assert "pause not sent: broker unreachable" in r.text  # nothing listens on port 1


def _status(ts: float) -> EngineStatus:
    return EngineStatus(
        engine_id="e1",
        ts=ts,
        broker_connected=True,
        agents_synced=True,
        campaigns=[
            CampaignStatus(
                id="demo", state="running", mode="predictive", dials=12,
                abandon_rate=0.029, abandon_cap=0.03,
            )
        ],
    )  # fmt: skip


def test_floor_marks_an_old_snapshot_stale_and_a_fresh_one_live(
    client: TestClient, state: ConsoleState
) -> None:
    log_in(client, SUE)
    state.watch.latest = _status(time.time())
    live = client.get("/floor").text
    assert "● LIVE" in live and 'class="current"' in live
    assert "2.90 % of 3.0 %" in live and "near cap" in live  # a word beside the colour
    state.watch.latest = _status(time.time() - 10)
    stale = client.get("/floor").text
    assert "▲ STALE" in stale and 'class="stale-data"' in stale and "Last known state" in stale
    assert "LIVE" not in stale


@pytest.fixture
def filled(state: ConsoleState) -> ConsoleState:
    asyncio.run(_fill(state.config.store.path))
    return state


def test_compliance_report_highlights_breaches(client: TestClient, filled: ConsoleState) -> None:
    log_in(client, SUE)
    page = client.get("/reports/compliance", params={"campaign": "c1", "from": FROM, "to": TO})
    assert page.status_code == 200
    assert page.text.count("⚠ BREACH") >= 2  # cancelled early; over the cap
    assert 'id="breaches"' in page.text
    clean = client.get("/reports/compliance", params={"campaign": "c2"})
    assert 'id="no-breaches"' in clean.text and "⚠ BREACH" not in clean.text


def test_compliance_csv_is_the_cli_csv(client: TestClient, filled: ConsoleState) -> None:
    log_in(client, SUE)
    r = client.get("/reports/compliance.csv", params={"campaign": "c1", "from": FROM, "to": TO})
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="compliance-c1.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(p["attempts"]) for p in rows] == [12, 2]


def test_attempts_filters_and_formula_escaped_csv(client: TestClient, filled: ConsoleState) -> None:
    log_in(client, SUE)
    q = {"campaign": "c1", "from": FROM, "to": TO}
    everything = client.get("/reports/attempts", params=q).text
    assert "14 attempt(s)" in everything
    abandoned = client.get("/reports/attempts", params={**q, "outcome": "abandoned"}).text
    assert "1 attempt(s)" in abandoned and ABANDONED_NUMBER in abandoned
    nobody = client.get("/reports/attempts", params={**q, "agent": "agent-999"}).text
    assert "0 attempt(s)" in nobody
    r = client.get("/reports/attempts.csv", params={**q, "outcome": "abandoned"})
    [row] = list(csv.DictReader(io.StringIO(r.text)))
    assert row["number"] == "'" + ABANDONED_NUMBER  # '+…' would be a formula to a spreadsheet


def test_unknown_campaign_is_named(client: TestClient, filled: ConsoleState) -> None:
    log_in(client, SUE)
    page = client.get("/reports/audit", params={"campaign": "nope"})
    assert "campaign &#39;nope&#39; is not in the store" in page.text
    assert client.get("/reports/audit.csv", params={"campaign": "nope"}).status_code == 400


def test_whatif_runs_the_simulator_for_both_settings(
    client: TestClient, filled: ConsoleState
) -> None:
    log_in(client, SUE)
    params = {"run": "1", "campaign": "c1", "scenario": "S1", "mode": "predictive",
              "cap": "3", "ring": "20", "seeds": "1", "hours": "1"}  # fmt: skip
    page = client.get("/whatif", params=params).text
    assert "now: progressive" in page and "what if: predictive" in page
    assert 'id="whatif-plot"' in page and "/static/plotly/plotly.min.js" in page
    assert client.get("/static/plotly/plotly.min.js").status_code == 200  # shipped, no CDN
    bad = client.get("/whatif", params={**params, "cap": "5"}).text
    assert "cap 5 %: must be in (0, 3]" in bad


def test_compliance_window_must_be_one_of_the_law_s(
    client: TestClient, filled: ConsoleState
) -> None:
    log_in(client, SUE)
    page = client.get("/reports/compliance", params={"campaign": "c1", "window": "7d"})
    assert "✗ window &#39;7d&#39;: must be 24h or 30d" in page.text
    month = client.get("/reports/compliance", params={"campaign": "c1", "window": "30d"})
    assert month.status_code == 200 and "must be 24h or 30d" not in month.text
