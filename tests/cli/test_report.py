"""`dialguard report compliance|attempts` over a store written the way the engine writes
it: figures per period in table, CSV and JSON; exit 1 on a breach so scripts can alert;
the attempt trail with every timestamp and the number in full; bad input exits 2."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from dialguard.cli import app
from dialguard.cli.report import ATTEMPT_FIELDS, CSV_FIELDS
from dialguard.config import parse_campaign
from dialguard.store import NewContact, Store
from tests.cli.test_campaign import run
from tests.support.attempts import play_attempt

# Monday 2026-11-16 15:00 UTC; the report covers two days from here.
DAY0 = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC)
T0 = DAY0.timestamp()
FROM, TO = DAY0.isoformat(), (DAY0 + dt.timedelta(days=2)).isoformat()
ABANDONED_NUMBER = "+12025550011"


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def _campaign(cid: str) -> str:
    return parse_campaign(
        {
            "id": cid,
            "name": cid.upper(),
            "caller_id": "+12025550123",
            "calling_window": {"regime": "none"},
        }
    ).model_dump_json()


async def _attempt(store: Store, cid: str, contact: Any, t: float, **fields: Any) -> None:
    aid = await store.attempts.open(
        campaign_id=cid,
        contact_id=contact.id,
        number=contact.number,
        mode="progressive",
        agent_id="agent-001",
        call_id=f"call-{contact.id}-{t:.0f}",
        now=t,
    )
    await play_attempt(store, aid, invite_at=t, **fields)


def _connected(t: float) -> dict[str, Any]:
    return {
        "ringing_at": t + 1,
        "answered_at": t + 6,
        "connected_at": t + 6.4,
        "ended_at": t + 90,
        "outcome": "connected",
        "ended_by": "remote",
        "sip_code": 200,
    }


async def _fill(path: Path) -> None:
    """c1: day 1 has 10 connected calls, 1 abandoned (agent lost, message, opt-out) and
    1 cancelled after 5 s of ringing — two breaches; day 2 has 2 connected calls.
    c2: one connected call an hour ago, nothing wrong."""
    async with await Store.open(path) as store:
        await store.campaigns.upsert("c1", "C1", _campaign("c1"), state="active")
        await store.campaigns.upsert("c2", "C2", _campaign("c2"), state="paused")
        numbers = [f"+1202555{n:04d}" for n in range(15)]
        await store.contacts.insert(
            "c1", [NewContact(number=n, region="US") for n in numbers], now=T0 - 10
        )
        await store.contacts.insert(
            "c2", [NewContact(number="+12025559999", region="US")], now=T0 - 10
        )
        c1 = {c.number: c for c in await store.contacts.due("c1", T0, 100)}
        [c2] = await store.contacts.due("c2", T0, 10)
        for i in range(10):
            await _attempt(store, "c1", c1[numbers[i]], T0 + 60 * i, **_connected(T0 + 60 * i))
        t = T0 + 3600
        await _attempt(
            store,
            "c1",
            c1[ABANDONED_NUMBER],
            t,
            ringing_at=t + 1,
            answered_at=t + 7,
            ended_at=t + 20,
            outcome="abandoned",
            abandoned=True,
            abandon_reason="agent_lost",
            message_played_at=t + 7.5,
            opted_out=True,
            ended_by="local",
            sip_code=200,
        )
        t = T0 + 7200
        await _attempt(
            store,
            "c1",
            c1[numbers[12]],
            t,
            ringing_at=t + 1,
            ended_at=t + 6,
            outcome="no_answer",
            ended_by="local",
            sip_code=487,
        )
        for i in (13, 14):
            t = T0 + 86400 + 60 * i
            await _attempt(store, "c1", c1[numbers[i]], t, **_connected(t))
        t = time.time() - 3600
        await _attempt(store, "c2", c2, t, **_connected(t))


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    asyncio.run(_fill(tmp_path / "store.sqlite3"))
    capsys.readouterr()  # the store's own log lines while filling it
    path = tmp_path / "dialguard.toml"
    path.write_text('[store]\npath = "store.sqlite3"\n[logging]\nformat = "json"\n')
    return str(path)


def report(config: str, *args: str) -> int:
    return run("report", *args, "--config", config)


def _ts(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


# --- compliance -----------------------------------------------------------------------


def test_compliance_json_counts_each_period_and_exits_1_on_breach(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = report(config, "compliance", "--campaign", "c1", "--from", FROM, "--to", TO,
                  "--format", "json")  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1
    data = json.loads(out)
    assert (data["campaign_id"], data["window"], data["cap"]) == ("c1", "24h", 0.03)
    assert _ts(data["from"]) == pytest.approx(T0, abs=0.001)
    day1, day2 = data["periods"]
    assert _ts(day1["start_iso"]) == pytest.approx(T0, abs=0.001)
    assert _ts(day2["start_iso"]) == pytest.approx(T0 + 86400, abs=0.001)
    assert (day1["attempts"], day1["live_answers"], day1["connects"]) == (12, 11, 10)
    assert day1["abandoned"] == 1 and day1["abandoned_by_reason"] == {"agent_lost": 1}
    assert day1["abandon_rate"] == pytest.approx(1 / 11)
    assert (day1["cancelled_before_15s"], day1["opt_outs"], day1["messages_played"]) == (1, 1, 1)
    assert day1["max_answer_to_agent_s"] == pytest.approx(0.4)
    assert (day2["attempts"], day2["abandoned"], day2["abandon_rate"]) == (2, 0, 0.0)
    assert len(data["breaches"]) == 2
    # Every 24 h span is checked (issue 17): from just after day 1's connected calls to
    # just before day 2's, the only live answer was the abandoned one.
    assert "worst rolling 24h span" in data["breaches"][0]
    assert "abandon rate 100.00% over cap 3.00% (1 of 1 live answers)" in data["breaches"][0]
    worst = data["worst_rolling_span"]
    assert (worst["answered"], worst["abandoned"], worst["end"] - worst["start"]) == (1, 1, 86400)
    assert "cancelled_before_15s = 1 (must be 0)" in data["breaches"][1]
    assert err.count("breach:") == 2  # also on stderr, for a cron mail


def test_compliance_csv_has_one_row_per_period(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = report(config, "compliance", "--campaign", "c1", "--from", FROM, "--to", TO,
                  "--format", "csv")  # fmt: skip
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 and tuple(rows[0]) == CSV_FIELDS
    assert rows[0]["attempts"] == "12" and rows[0]["abandoned_by_reason"] == "agent_lost=1"
    assert float(rows[0]["abandon_rate"]) == pytest.approx(1 / 11, abs=1e-6)
    assert rows[0]["abandon_cap"] == "0.03" and rows[0]["cancelled_before_15s"] == "1"
    assert rows[1]["attempts"] == "2" and rows[1]["abandoned_by_reason"] == ""
    assert _ts(rows[1]["period_end"]) == pytest.approx(T0 + 2 * 86400, abs=0.001)


def test_compliance_table_shows_figures_rules_and_breaches(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = report(config, "compliance", "--campaign", "c1", "--from", FROM, "--to", TO)
    out = capsys.readouterr().out
    assert code == 1
    assert "abandoned: agent_lost" in out and "9.09%" in out and "must be 0" in out
    assert "2 breach(es):" in out
    # the title in two whole lines, not wrapped wherever it fell ("…, cap" / "3.0%")
    first, second = [line.strip() for line in out.splitlines()[:2]]
    assert first == "Compliance: campaign c1, 24h window, cap 3.0%"
    assert re.fullmatch(r"\S+ → \S+", second), second


def test_compliance_many_periods_get_a_row_each(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    to = (DAY0 + dt.timedelta(days=6)).isoformat()
    code = report(config, "compliance", "--campaign", "c1", "--from", FROM, "--to", to,
                  "--format", "json")  # fmt: skip
    assert code == 1
    periods = json.loads(capsys.readouterr().out)["periods"]
    assert [p["attempts"] for p in periods] == [12, 2, 0, 0, 0, 0]
    assert report(config, "compliance", "--campaign", "c1", "--from", FROM, "--to", to) == 1
    out = capsys.readouterr().out
    assert out.count("Nov 15:00") == 6  # a row per day
    assert "must be 0" in out  # the caption says which columns


def test_compliance_30d_window(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    to = (DAY0 + dt.timedelta(days=40)).isoformat()
    code = report(config, "compliance", "--campaign", "c1", "--window", "30d",
                  "--from", FROM, "--to", to, "--format", "json")  # fmt: skip
    assert code == 1
    periods = json.loads(capsys.readouterr().out)["periods"]
    assert [p["attempts"] for p in periods] == [14, 0]
    assert periods[1]["end"] - periods[1]["start"] == pytest.approx(10 * 86400)


def test_clean_campaign_exits_0_and_defaults_to_the_last_window(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report(config, "compliance", "--campaign", "c2", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    [period] = data["periods"]
    assert period["attempts"] == 1 and data["breaches"] == []
    assert _ts(data["to"]) - _ts(data["from"]) == pytest.approx(86400, abs=0.01)
    assert report(config, "compliance", "--campaign", "c2") == 0
    assert "no breaches" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "nope"], "campaign 'nope' is not in the store"),
        (["--campaign", "c1", "--from", "last tuesday"], "--from 'last tuesday': not an ISO"),
        (["--campaign", "c1", "--from", TO, "--to", FROM], "is not before --to"),
    ],
)
def test_compliance_bad_input_exits_2(
    config: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert report(config, "compliance", *args) == 2
    assert message in capsys.readouterr().err


def test_unknown_window_is_refused_by_the_parser(config: str) -> None:
    with pytest.raises(SystemExit) as e:
        report(config, "compliance", "--campaign", "c1", "--window", "7d")
    assert e.value.code == 2


def test_missing_store_is_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[store]\npath = "nothing.sqlite3"\n')
    assert report(str(path), "compliance", "--campaign", "c1") == 2
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_a_file_that_is_not_a_store_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.sqlite3").write_text("not a database\n")
    path = tmp_path / "c.toml"
    path.write_text('[store]\npath = "junk.sqlite3"\n')
    for command in ("compliance", "attempts", "audit"):
        assert report(str(path), command, "--campaign", "c1") == 2
        assert "not a dialguard store" in capsys.readouterr().err


def test_campaign_whose_stored_config_is_invalid_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fill() -> None:
        async with await Store.open(tmp_path / "s.sqlite3") as store:
            await store.campaigns.upsert("odd", "Odd", '{"id": "odd"}')

    asyncio.run(fill())
    capsys.readouterr()
    path = tmp_path / "c.toml"
    path.write_text('[store]\npath = "s.sqlite3"\n')
    assert report(str(path), "compliance", "--campaign", "odd") == 2
    assert "caller_id" in capsys.readouterr().err


# --- attempts -------------------------------------------------------------------------


def test_attempts_csv_has_every_field_and_the_full_number(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = report(config, "attempts", "--campaign", "c1", "--from", FROM, "--to", TO,
                  "--format", "csv")  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 14 and tuple(rows[0]) == ATTEMPT_FIELDS
    [lost] = [r for r in rows if r["abandoned"] == "True"]
    # the OWASP CSV-injection rule: a leading '+' is a formula to a spreadsheet
    assert lost["number"] == "'" + ABANDONED_NUMBER
    assert (lost["abandon_reason"], lost["outcome"], lost["opted_out"]) == (
        "agent_lost",
        "abandoned",
        "True",
    )
    assert _ts(lost["answered_at"]) == pytest.approx(T0 + 3607, abs=0.001)
    assert _ts(lost["message_played_at"]) == pytest.approx(T0 + 3607.5, abs=0.001)
    assert lost["connected_at"] == "" and lost["agent_id"] == "agent-001"
    assert ABANDONED_NUMBER not in err  # shown to the supervisor, never logged


def test_attempts_json_and_table(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = report(config, "attempts", "--campaign", "c1", "--from", FROM, "--to", TO,
                  "--format", "json")  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["id"] for a in data] == sorted(a["id"] for a in data)
    cancelled = next(a for a in data if a["sip_code"] == 487)
    assert cancelled["outcome"] == "no_answer" and cancelled["ended_by"] == "local"
    assert _ts(cancelled["ended_at"]) - _ts(cancelled["ringing_at"]) == pytest.approx(5)
    assert report(config, "attempts", "--campaign", "c1", "--from", FROM, "--to", TO) == 0
    out = capsys.readouterr().out
    assert ABANDONED_NUMBER in out and "agent_lost" in out and "(opted out)" in out
    assert ": 14" in out  # the count in the title


def test_attempts_default_to_the_last_day(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert report(config, "attempts", "--campaign", "c1", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == []  # c1's calls are all days ago
    assert report(config, "attempts", "--campaign", "c2", "--format", "json") == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_attempts_unknown_campaign_exits_2(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert report(config, "attempts", "--campaign", "c9") == 2
    assert "known: c1, c2" in capsys.readouterr().err


def test_help_explains_exit_codes_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    app(["report", "compliance", "--help"], result_action="return_value")
    out = " ".join(capsys.readouterr().out.split())
    assert "exit 1 on any breach" in out and "csv" in out and "30d" in out
    app(["report", "attempts", "--help"], result_action="return_value")
    out = " ".join(capsys.readouterr().out.split())
    assert "every call attempt" in out and "Numbers are shown in full" in out


# --- audit ----------------------------------------------------------------------------


async def _changes(path: Path) -> None:
    """c1 created at T0, started by alice, a pacing change refused then one accepted."""
    async with await Store.open(path) as store:
        await store.campaigns.upsert("c1", "C1", _campaign("c1"), actor="import", now=T0)
        await store.campaigns.set_state("c1", "active", actor="alice", now=T0 + 60)
        await store.audit.record(
            "bob",
            "pacing.refused",
            campaign_id="c1",
            old={"abandon_cap": 0.03, "mode": "progressive"},
            new={"abandon_cap": 0.05},
            detail="abandon_cap = 0.05: must be > 0 and ≤ 0.03",
            now=T0 + 120,
        )
        await store.audit.record(
            "bob",
            "pacing.changed",
            campaign_id="c1",
            old={"abandon_cap": 0.03},
            new={"abandon_cap": 0.02},
            now=T0 + 180,
        )
        await store.audit.record("carol", "pacing.changed", campaign_id="c1", now=T0 + 86400 * 3)


@pytest.fixture
def audit_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    asyncio.run(_changes(tmp_path / "a.sqlite3"))
    capsys.readouterr()
    path = tmp_path / "a.toml"
    path.write_text('[store]\npath = "a.sqlite3"\n[logging]\nformat = "json"\n')
    return str(path)


def test_audit_json_lists_who_changed_what_in_the_span(
    audit_config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = report(audit_config, "audit", "--campaign", "c1", "--from", FROM, "--to", TO,
                  "--format", "json")  # fmt: skip
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("import", "campaign.created"),
        ("alice", "campaign.state"),
        ("bob", "pacing.refused"),
        ("bob", "pacing.changed"),
    ]  # carol's change, three days later, is outside --to
    assert [_ts(r["ts"]) for r in rows] == pytest.approx([T0, T0 + 60, T0 + 120, T0 + 180])
    refused, changed = rows[2], rows[3]
    assert refused["new"] == {"abandon_cap": 0.05} and "≤ 0.03" in refused["detail"]
    assert (changed["old"], changed["new"]) == ({"abandon_cap": 0.03}, {"abandon_cap": 0.02})


def test_audit_table_and_csv(audit_config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert report(audit_config, "audit", "--campaign", "c1", "--from", FROM, "--to", TO) == 0
    out = capsys.readouterr().out
    assert "created, state paused" in out
    assert 'state: "paused" → "active"' in out
    assert "abandon_cap: 0.03 → 0.02" in out
    assert "asked abandon_cap = 0.05" in out and "refused:" in out
    code = report(audit_config, "audit", "--campaign", "c1", "--from", FROM, "--to", TO,
                  "--format", "csv")  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["action"] for r in rows][-1] == "pacing.changed"
    assert json.loads(rows[-1]["new"]) == {"abandon_cap": 0.02}
    assert rows[0]["detail"] == ""


def test_audit_unknown_campaign_exits_2(
    audit_config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report(audit_config, "audit", "--campaign", "c9") == 2
    assert "campaign 'c9' is not in the store" in capsys.readouterr().err


def test_output_piped_into_head_ends_quietly(config: str, tmp_path: Path) -> None:
    """`… --format json | head -1`: the reader leaves early; no BrokenPipeError traceback,
    and the status a SIGPIPE would give. (The reader is gone before the first write, so
    the test does not depend on how much fits in the pipe.)"""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # a reader that has already gone
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dialguard", "report", "attempts", "--config", config,
             "--campaign", "c1", "--from", FROM, "--to", TO, "--format", "json"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 141
