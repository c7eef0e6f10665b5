"""`dialguard campaign …` run in-process through the real CLI app, against a real broker
and a real running engine (a LocalCentre): accepted changes print old → new and land in
the audit table; changes outside the law, unknown campaigns and wrong transitions are
refused with the engine's reason (exit 1); no daemon or no broker exits 3."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import structlog

from dialguard.cli import app
from dialguard.demo.centre import CentreOptions, LocalCentre
from dialguard.logs import configure_logging
from dialguard.store import NewContact, Store

ANY_HOUR = {"calling_window": {"regime": "none"}}


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    """The CLI configures structlog for the process; give other tests theirs back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def run(*args: str) -> int:
    """One CLI call; the structlog set-up it makes (onto this test's captured stderr) is
    undone at once, so the engine's own logging outlives the capture."""
    saved = structlog.get_config()
    try:
        result = app(list(args), result_action="return_value")
    finally:
        structlog.configure(**saved)
    assert isinstance(result, int)
    return result


async def arun(*args: str) -> int:
    """Run the CLI in a worker thread: it calls asyncio.run itself, while this test's
    loop keeps the engine running."""
    return await asyncio.to_thread(run, *args)


def engine_toml(centre: LocalCentre, path: Path) -> Path:
    """The config a supervisor's machine would have: same broker, prefix and store."""
    cfg = centre.engine_config()
    path.write_text(
        f'[broker]\nurl = "{cfg.broker.url}"\ntopic_prefix = "{cfg.broker.topic_prefix}"\n'
        f'[store]\npath = "{cfg.store.path}"\n[logging]\nformat = "json"\n'
    )
    return path


@pytest.fixture
async def centre(broker_url: str, tmp_path: Path) -> AsyncIterator[LocalCentre]:
    """A running engine with two agents, campaign "demo" paused, and nobody to call (so
    starting it dials nothing). Its logs go to a file, so stdout holds only what the
    commands print."""
    with (tmp_path / "engine.log").open("w") as log:
        configure_logging("info", "json", stream=log)
        async for c in _centre(broker_url, tmp_path):
            yield c


async def _centre(broker_url: str, tmp_path: Path) -> AsyncIterator[LocalCentre]:
    u = urlsplit(broker_url)
    c = LocalCentre(
        CentreOptions(
            broker_host=u.hostname or "127.0.0.1",
            broker_port=u.port or 1883,
            agents=2,
            numbers=[],
            workdir=tmp_path / "centre",
            drain_s=1,
            campaign_overrides=ANY_HOUR,
        )
    )
    try:
        await c.start()
        yield c
    finally:
        await c.stop()


@pytest.fixture
def config(centre: LocalCentre, tmp_path: Path) -> str:
    return str(engine_toml(centre, tmp_path / "dialguard.toml"))


def runner_state(centre: LocalCentre) -> str:
    assert centre.engine is not None
    return centre.engine.runners["demo"].state


async def audit(centre: LocalCentre, action: str) -> list[tuple[str, object, object, float]]:
    async with await Store.open(centre.store_path) as store:
        return [
            (e.actor, e.old, e.new, e.ts)
            for e in await store.audit.events("demo")
            if e.action == action
        ]


# --- start / pause / resume / stop ---------------------------------------------------


@pytest.mark.broker
async def test_lifecycle_prints_old_to_new_and_is_audited(
    centre: LocalCentre, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.time()
    steps = [
        ("start", "paused", "active"),
        ("pause", "active", "paused"),
        ("resume", "paused", "active"),
        ("stop", "active", "stopped"),
        ("start", "stopped", "active"),
    ]
    for action, old, new in steps:
        code = await arun("campaign", action, "demo", "--config", config, "--actor", "alice")
        out = capsys.readouterr().out
        assert code == 0, out
        assert f"state: {old} → {new}" in out
        assert "(by alice)" in out
        assert runner_state(centre) == new
    changes = await audit(centre, "campaign.state")
    assert [(a, o, n) for a, o, n, _ in changes] == [
        ("alice", {"state": old}, {"state": new}) for _, old, new in steps
    ]
    assert all(began <= ts <= time.time() for *_, ts in changes)


@pytest.mark.broker
async def test_transition_that_does_not_apply_is_refused_with_reason(
    centre: LocalCentre, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await arun("campaign", "pause", "demo", "--config", config)
    err = capsys.readouterr().err
    assert code == 1
    assert "refused by the engine" in err and "cannot pause a campaign that is paused" in err
    assert runner_state(centre) == "paused"
    assert await audit(centre, "campaign.state") == []


@pytest.mark.broker
async def test_unknown_campaign_is_refused_with_the_engines_reason(
    centre: LocalCentre, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await arun("campaign", "start", "nope", "--config", config)
    assert code == 1
    assert "unknown campaign 'nope'" in capsys.readouterr().err


# --- set-pacing -----------------------------------------------------------------------


@pytest.mark.broker
async def test_set_pacing_accepted_shows_old_to_new_and_is_audited(
    centre: LocalCentre, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.time()
    code = await arun(
        "campaign", "set-pacing", "demo", "--mode", "predictive", "--abandon-cap", "2%",
        "--ring-timeout", "25", "--abandon-window", "30d", "--actor", "bob", "--config", config,
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "mode: progressive → predictive" in out
    assert "abandon_cap: 0.03 (3.0%) → 0.02 (2.0%)" in out
    assert "ring_timeout_s: 20 s → 25 s" in out
    assert "abandon_window: 24h → 30d" in out
    assert centre.engine is not None
    pacing = centre.engine.runners["demo"].campaign.pacing
    assert (pacing.mode, pacing.abandon_cap, pacing.ring_timeout_s) == ("predictive", 0.02, 25)
    [(actor, old, new, ts)] = await audit(centre, "pacing.changed")
    assert actor == "bob" and began <= ts <= time.time()
    assert old == {
        "mode": "progressive",
        "abandon_cap": 0.03,
        "ring_timeout_s": 20.0,
        "abandon_window": "24h",
    }
    assert new == {
        "mode": "predictive",
        "abandon_cap": 0.02,
        "ring_timeout_s": 25.0,
        "abandon_window": "30d",
    }
    async with await Store.open(centre.store_path) as store:
        record = await store.campaigns.get("demo")
    assert record is not None and record.config["pacing"]["abandon_cap"] == 0.02
    # and the supervisor can read it back without touching SQLite
    assert await arun("report", "audit", "--campaign", "demo", "--config", config,
                      "--format", "json") == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    [row] = [r for r in rows if r["action"] == "pacing.changed"]
    assert (row["actor"], row["old"]["mode"], row["new"]["mode"]) == (
        "bob",
        "progressive",
        "predictive",
    )


@pytest.mark.broker
@pytest.mark.parametrize(
    ("args", "field", "why"),
    [
        (["--abandon-cap", "0.05"], "abandon_cap = 0.05", "at most 3 %"),
        (["--abandon-cap", "3.5%"], "abandon_cap = 0.035", "at most 3 %"),
        (["--ring-timeout", "10"], "ring_timeout_s = 10.0", "≥ 15 s"),
        (["--mode", "predictive", "--max-dial-ratio", "4"], "max_dial_ratio = 4.0", "1 and 3"),
    ],
)
async def test_set_pacing_outside_the_law_is_refused_and_audited(
    centre: LocalCentre,
    config: str,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    field: str,
    why: str,
) -> None:
    assert centre.engine is not None
    before = centre.engine.runners["demo"].campaign.pacing
    code = await arun("campaign", "set-pacing", "demo", *args, "--config", config)
    err = capsys.readouterr().err
    assert code == 1
    assert "refused by the engine" in err and field in err and why in err
    assert centre.engine.runners["demo"].campaign.pacing == before  # nothing applied
    assert await audit(centre, "pacing.changed") == []
    [(_, _, _, _)] = await audit(centre, "pacing.refused")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to change"),
        (["--abandon-cap", "lots"], "--abandon-cap 'lots': not a number"),
    ],
)
def test_set_pacing_bad_input_exits_2_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[broker]\nurl = "mqtt://127.0.0.1:1"\n')  # nothing there: never reached
    code = run("campaign", "set-pacing", "demo", *args, "--config", str(cfg))
    assert code == 2
    assert message in capsys.readouterr().err


def test_bad_campaign_id_and_actor_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[broker]\nurl = "mqtt://127.0.0.1:1"\n')
    assert run("campaign", "start", "a/b", "--config", str(cfg)) == 2
    assert "campaign id 'a/b'" in capsys.readouterr().err
    assert run("campaign", "start", "demo", "--actor", "x" * 65, "--config", str(cfg)) == 2
    assert "1 to 64 characters" in capsys.readouterr().err


# --- nobody there ---------------------------------------------------------------------


@pytest.mark.broker
def test_daemon_not_running_exits_3_within_the_timeout(
    broker_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[broker]\nurl = "{broker_url}"\ntopic_prefix = "nobody-{time.time_ns()}"\n')
    began = time.monotonic()
    code = run("campaign", "pause", "demo", "--config", str(cfg), "--timeout", "1")
    took = time.monotonic() - began
    assert code == 3
    assert "daemon not running or not connected" in capsys.readouterr().err
    assert 1.0 <= took < 4.0


def test_broker_unreachable_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[broker]\nurl = "mqtt://127.0.0.1:{port}"\n')
    code = run("campaign", "start", "demo", "--config", str(cfg))
    assert code == 3
    assert "cannot reach the broker" in capsys.readouterr().err


# --- list (store only) ----------------------------------------------------------------


async def _store_with_two_campaigns(path: Path) -> None:
    from dialguard.config import parse_campaign

    spring = parse_campaign(
        {"id": "spring", "name": "Spring", "caller_id": "+12025550123", **ANY_HOUR}
    )
    autumn = parse_campaign(
        {
            "id": "autumn",
            "name": "Autumn",
            "caller_id": "+12025550123",
            "pacing": {"mode": "preview"},
        }
    )
    async with await Store.open(path) as store:
        await store.campaigns.upsert("spring", "Spring", spring.model_dump_json(), state="active")
        await store.campaigns.upsert("autumn", "Autumn", autumn.model_dump_json())
        await store.contacts.insert(
            "spring", [NewContact(number=f"+1202555{n:04d}", region="US") for n in range(5)]
        )
        contacts = await store.contacts.due("spring", time.time() + 10, 10)
        await store.contacts.close(contacts[0].id, "done")
        await store.contacts.close(contacts[1].id, "dnc")
        for c in contacts[:3]:
            await store.attempts.open(
                campaign_id="spring", contact_id=c.id, number=c.number, mode="progressive"
            )


def test_list_reads_the_store_without_a_daemon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_store_with_two_campaigns(tmp_path / "s.sqlite3"))
    capsys.readouterr()  # the store's own log lines while setting up
    cfg = tmp_path / "c.toml"
    # the broker named here does not exist: list must not need it
    cfg.write_text('[broker]\nurl = "mqtt://127.0.0.1:1"\n[store]\npath = "s.sqlite3"\n')
    assert run("campaign", "list", "--config", str(cfg), "--format", "json") == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"spring", "autumn"}
    spring, autumn = rows["spring"], rows["autumn"]
    assert (spring["state"], spring["mode"], spring["attempts"]) == ("active", "progressive", 3)
    assert spring["contacts"] == {
        "pending": 3,
        "in_progress": 0,
        "done": 1,
        "exhausted": 0,
        "dnc": 1,
    }
    assert (autumn["state"], autumn["mode"], autumn["attempts"]) == ("paused", "preview", 0)

    assert run("campaign", "list", "--config", str(cfg)) == 0
    out = capsys.readouterr().out
    assert "spring" in out and "autumn" in out and "preview" in out


def test_list_shows_a_campaign_whose_stored_config_no_longer_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store written by an older version must still list, not crash."""

    async def fill() -> None:
        async with await Store.open(tmp_path / "s.sqlite3") as store:
            await store.campaigns.upsert("odd", "Odd", '{"id": "odd"}')

    asyncio.run(fill())
    capsys.readouterr()
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\npath = "s.sqlite3"\n')
    assert run("campaign", "list", "--config", str(cfg), "--format", "json") == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["id"], row["mode"], row["state"]) == ("odd", "(bad config)", "paused")


def test_list_without_a_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\npath = "missing.sqlite3"\n')
    assert run("campaign", "list", "--config", str(cfg)) == 2
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite3").exists()  # not created by listing


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    expected = {
        "list": "works whether or not the daemon is running",
        "start": "begins dialling",
        "pause": "an answered call still gets its agent",
        "resume": "a stopped one needs",
        "stop": "stays stopped across",
        "set-pacing": "abandon cap at",
    }
    for command, phrase in expected.items():
        app(["campaign", command, "--help"], result_action="return_value")
        out = " ".join(capsys.readouterr().out.split())
        assert phrase in out, (command, out)


# --- a started campaign that cannot dial says why ---------------------------------------


@pytest.mark.broker
async def test_a_started_campaign_that_can_dial_nothing_says_why_everywhere(
    broker_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """issue 12 item 2: a campaign needing a TPS list nobody imported was "running, dials
    0" and only the daemon's log said campaign_blocked. Now `campaign start` warns,
    `status --json` carries the reasons, and so does the metric."""
    u = urlsplit(broker_url)
    c = LocalCentre(
        CentreOptions(
            broker_host=u.hostname or "127.0.0.1",
            broker_port=u.port or 1883,
            agents=2,
            numbers=["+15550000500"],
            workdir=tmp_path / "centre",
            drain_s=1,
            campaign_overrides={**ANY_HOUR, "dnc": {"lists": ["tps"]}},
        )
    )
    with (tmp_path / "engine.log").open("w") as log:
        configure_logging("info", "json", stream=log)
        try:
            await c.start()
            config = str(engine_toml(c, tmp_path / "dialguard.toml"))
            code = await arun("campaign", "start", "demo", "--config", config)
            out = capsys.readouterr()
            assert code == 0, out.err
            assert "state: paused → active" in out.out
            assert "warning: it will dial nothing yet: the TPS list was never imported" in out.err
            assert "--source tps" in out.err

            blocked: list[str] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "dnc_list_missing" not in blocked:
                await arun("status", "--once", "--json", "--config", config)
                snap = json.loads(capsys.readouterr().out)["status"]
                (demo,) = [x for x in snap["campaigns"] if x["id"] == "demo"]
                blocked = [r["code"] for r in demo["blocked"]]
                await asyncio.sleep(0.5)
            assert demo["state"] == "running" and demo["dials"] == 0
            assert blocked == ["dnc_list_missing"]
            assert c.engine is not None
            value = c.engine.metrics.registry.get_sample_value(
                "dialguard_campaign_blocked", {"campaign": "demo", "reason": "dnc_list_missing"}
            )
            assert value == 1
        finally:
            await c.stop()
