"""The engine alone: a real SQLite store in a temporary directory, a scripted trunk and
a fake broker link (tests/support/fake_link.py), so each test runs in a second or two.
The same paths run end to end over mosquitto and the SIP simulator in tests/e2e; here
they are pinned one by one: a supervisor's start reaches the runner and the audit, a
ready agent gets a call that is transferred to its URI, an agent who goes offline is
not dialled for, a lost broker holds dialling, a crashed part stops the engine after
hanging up, and a stop drains the calls and releases the store for the next daemon."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialguard.config import CampaignConfig, EngineConfig, Roster, RosterEntry, parse_campaign
from dialguard.engine.agents import AgentRegistry
from dialguard.engine.engine import WILL_GRACE_S, Engine
from dialguard.engine.mqtt import LinkHandlers
from dialguard.sip.api import TrunkEventKind
from dialguard.store import NewContact, Store
from tests.support.daemon import until
from tests.support.fake_link import FakeLink
from tests.support.scripted import ScriptedCall, ScriptedTrunk

NUMBERS = [f"+4420794602{n:02d}" for n in range(6)]


def campaign(**pacing: object) -> CampaignConfig:
    return parse_campaign(
        {
            "id": "c1",
            "name": "Engine test",
            "caller_id": "+12025550123",
            "calling_window": {"regime": "none"},
            "pacing": {"mode": "progressive", **pacing},
        }
    )


@dataclass
class Rig:
    engine: Engine
    link: FakeLink
    trunk: ScriptedTrunk
    task: asyncio.Task[None]
    store_path: Path

    async def call(self, n: int, within: float = 5.0) -> ScriptedCall:
        await until(lambda: len(self.trunk.calls) >= n, within, f"dial {n}")
        return self.trunk.calls[n - 1]

    async def stop(self) -> None:
        self.engine.request_stop()
        await asyncio.wait_for(self.task, 30.0)


ROSTER = Roster.of(["a1", "a2"])


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, *, transfer_s: float | None = 0.02, roster: Roster | None = None
) -> AsyncIterator[Rig]:
    path = tmp_path / "store.sqlite3"
    async with await Store.open(path) as store:
        await store.campaigns.upsert("c1", "Engine test", "{}")
        await store.contacts.insert("c1", [NewContact(number=n, region="GB") for n in NUMBERS])
    cfg = EngineConfig.model_validate(
        {"store": {"path": str(path)}, "engine": {"shutdown_grace_s": 1.0}}
    )
    links: list[FakeLink] = []

    def make_link(registry: AgentRegistry, handlers: LinkHandlers) -> FakeLink:
        links.append(FakeLink(registry, handlers))
        return links[-1]

    trunk = ScriptedTrunk(transfer_s)
    engine = Engine(
        cfg, [campaign()], trunk, metrics_enabled=False, link=make_link, roster=roster or ROSTER
    )
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 10.0)
        await until(lambda: links[0].dialling_allowed, 5.0, "link synced")
        yield Rig(engine, links[0], trunk, task, path)
    finally:
        if not task.done():
            engine.request_stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30.0)


async def test_a_start_from_a_supervisor_dials_for_a_ready_agent_and_transfers_to_it(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as r:
        r.link.agent("a1", "ready")
        await asyncio.sleep(0.2)
        assert r.trunk.calls == []  # the campaign starts paused: nothing dialled yet
        reply = await r.link.control("c1", "start")
        assert reply.accepted, reply.reason
        call = await r.call(1)
        call.ring()
        call.answer()
        await until(lambda: bool(call.transfers), 3.0, "REFER")
        assert call.transfers[0][1] == "sip:a1@127.0.0.1:5070"
        told = lambda: [m.event for _, m in r.link.calls][:2]  # noqa: E731
        await until(lambda: told() == ["offer", "connected"], 3.0, "desktop told")
        (a1,) = [a for a in r.engine.status().agents if a.agent == "a1"]
        assert a1.call is not None and a1.call.endswith(call.number[-3:])  # the call it is on
        assert call.number not in a1.call and "*" in a1.call  # masked
        r.link.agent("a1", "busy")
        call.end()
        await r.stop()
    async with await Store.open(r.store_path) as store:
        rows = await store.attempts.of_campaign("c1", 0, 2e9)
        assert [(a.outcome, a.agent_id) for a in rows] == [("connected", "a1")]
        campaign_row = await store.campaigns.get("c1")
        assert campaign_row is not None and campaign_row.state == "active"
        audit = await store.audit.events("c1")
        assert any(e.actor == "sup" for e in audit), audit


async def test_an_agent_gone_offline_gets_no_new_call_and_the_pacer_hears_it_after_the_grace(
    tmp_path: Path,
) -> None:
    """A will is held WILL_GRACE_S (a broker shutting down sends every will just before
    it drops the link); meanwhile the agent is not available for a new call, then the
    pacer hears ``offline``."""
    async with running(tmp_path) as r:
        await r.link.control("c1", "start")
        r.link.agent("a1", "ready")
        first = await r.call(1)
        first.push(TrunkEventKind.FAILED, code=486)  # busy: the agent is free again
        r.link.agent("a1", "offline")  # the desktop's will
        runner = r.engine.runners["c1"]
        ready = lambda: runner.pacer.counters(runner.loop.time()).agents_ready  # noqa: E731
        await asyncio.sleep(0.5)
        assert len(r.trunk.calls) == 1, "dialled for an agent whose will is in"
        await until(lambda: ready() == 0, WILL_GRACE_S + 3.0, "pacer hears offline")
        assert len(r.trunk.calls) == 1


async def test_a_lost_broker_holds_new_dials_and_a_sync_resumes_them(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        await r.link.control("c1", "start")
        r.link.link_down()
        r.link.agent("a1", "ready")  # a state that reached the registry during the outage
        await asyncio.sleep(0.5)
        assert r.trunk.calls == []
        assert not r.engine.link.dialling_allowed
        r.link.reconnect({"a1": "ready"})
        await r.call(1)


async def test_a_crashed_runner_stops_the_engine_and_says_which_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(tmp_path) as r:
        runner = r.engine.runners["c1"]

        def broken(*args: object) -> None:
            raise RuntimeError("injected bug in the runner")

        monkeypatch.setattr(runner, "_step", broken)
        runner._wake.set()
        with pytest.raises(BaseException):  # noqa: B017 (the group wraps it)
            await asyncio.wait_for(r.task, 30.0)
        assert r.engine.crashed is not None and r.engine.crashed.startswith("campaign-c1")


async def test_a_stop_releases_the_store_for_the_next_daemon(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        await r.stop()
    async with running(tmp_path) as again:  # the engine lock was released
        assert again.engine.runners["c1"].state == "paused"


async def test_an_answer_to_a_call_of_the_crashed_process_is_recorded_as_abandoned(
    tmp_path: Path,
) -> None:
    """The adapter reports a 200 OK for a Call-ID this process never placed (it ACKed and
    hung up): the attempt row the previous process wrote for it becomes answered and
    abandoned, so the compliance report and the governor count the person who heard
    silence."""
    async with running(tmp_path) as r:
        await r.link.control("c1", "start")
        r.link.agent("a1", "ready")
        call = await r.call(1)
        await until(lambda: r.engine.writes.pending == 0, 3.0, "invite written")
        r.link.agent("a1", "paused")
        call.push(TrunkEventKind.FAILED, code=487)  # as recovery would close it
        r.trunk.orphan_handler(call.call_id)
        await until(lambda: r.engine.writes.pending == 0, 3.0, "orphan answer written")
        # the running governor counts it too, not only the next process's seed
        budget = r.engine.runners["c1"].pacer.budget
        assert (budget.answered, budget.abandoned) == (1, 1)
        await r.stop()
    async with await Store.open(r.store_path) as store:
        (attempt,) = await store.attempts.of_campaign("c1", 0, 2e9)
    assert attempt.abandoned and attempt.abandon_reason == "answered_after_restart"
    assert attempt.answered_at is not None


# --- the roster (issue 11) -------------------------------------------------------------


async def test_a_login_not_on_the_roster_gets_no_call_and_is_counted(tmp_path: Path) -> None:
    """On old main the health check's login published 'ready' and was sent 2 of 4 calls."""
    async with running(tmp_path) as r:
        await r.link.control("c1", "start")
        rejected = r.link.stranger("healthcheck", "ready")
        assert rejected.reason == "unknown_agent"
        await asyncio.sleep(0.5)
        assert r.trunk.calls == []
        metric = r.engine.metrics.agent_states_ignored.labels("unknown_agent")
        assert metric._value.get() == 1
        assert "healthcheck" not in {a.agent for a in r.engine.status().agents}
        await r.stop()


async def test_the_roster_says_where_calls_go_and_which_campaigns_an_agent_serves(
    tmp_path: Path,
) -> None:
    roster = Roster(
        {
            "a1": RosterEntry(id="a1", groups=(), campaigns=("other",)),  # not c1's
            "a2": RosterEntry(id="a2", sip_uri="sip:2002@pbx.example"),
        }
    )
    async with running(tmp_path, roster=roster) as r:
        await r.link.control("c1", "start")
        r.link.agent("a1", "ready", group="default")  # the message's group is ignored
        await asyncio.sleep(0.5)
        assert r.trunk.calls == []
        r.link.agent("a2", "ready")
        call = await r.call(1)
        call.ring()
        call.answer()
        await until(lambda: bool(call.transfers), 3.0, "REFER")
        assert call.transfers[0][1] == "sip:2002@pbx.example"
        r.link.agent("a2", "busy")
        call.end()
        await r.stop()


async def test_a_reloaded_roster_takes_a_removed_agent_out_of_its_campaign(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as r:
        r.link.agent("a1", "ready")
        runner = r.engine.runners["c1"]
        ready = lambda: runner.pacer.counters(runner.loop.time()).agents_ready  # noqa: E731
        await until(lambda: ready() == 1, 3.0, "a1 counted")
        r.engine.reload_roster(Roster.of(["a2"]))
        await until(lambda: ready() == 0, 3.0, "a1 removed")
        await r.stop()


async def test_the_engines_own_snapshot_says_why_nothing_dials_and_who_is_held(
    tmp_path: Path,
) -> None:
    """issue 12 items 2 and 5, on the engine's side of the status topic (tests/cli render
    snapshots made by hand): a running campaign with nobody logged in carries
    ``no_agents``; once an agent is ready and held for a ringing call, the reason is gone,
    the agent is ``reserved`` (not free) since that moment, and the campaign counts the
    dial in the last minute with one contact fewer left to call."""
    async with running(tmp_path) as r:
        assert (await r.link.control("c1", "start")).accepted
        await until(
            lambda: [b.code for b in r.engine.status().campaigns[0].blocked] == ["no_agents"],
            5.0,
            "no_agents",
        )
        c1 = r.engine.status().campaigns[0]
        assert c1.state == "running" and c1.dials == 0
        assert "group 'default'" in c1.blocked[0].message
        assert c1.contacts_left == len(NUMBERS)
        r.link.agent("a1", "ready")
        call = await r.call(1)
        call.ring()
        await until(lambda: r.engine.status().campaigns[0].blocked == [], 5.0, "unblocked")
        status = r.engine.status()
        (a1,) = [a for a in status.agents if a.agent == "a1"]
        assert a1.state == "ready" and a1.reserved, a1  # held: not free for another call
        assert a1.since is not None and status.ts - 5 < a1.since <= status.ts
        assert a1.campaign == "c1"
        await until(
            lambda: r.engine.status().campaigns[0].contacts_left == len(NUMBERS) - 1,
            5.0,
            "contacts left after one dial (one claimed ahead is still left to call)",
        )
        c1 = r.engine.status().campaigns[0]
        assert (c1.dials, c1.dials_last_min, c1.in_flight) == (1, 1, 1)
        await r.stop()


async def test_a_supervisors_change_is_in_the_status_snapshot_before_it_is_answered(
    tmp_path: Path,
) -> None:
    """`campaign start` then `status --once` at once (the README's walk-through pasted
    whole) showed the campaign still paused: the snapshot was published once a second,
    the reply at once. The snapshot of the new state now goes out first."""
    async with running(tmp_path) as r:
        await asyncio.sleep(1.5)  # a periodic snapshot of the paused campaign is out
        assert r.link.statuses and r.link.statuses[-1].campaigns[0].state == "paused"
        assert (await r.link.control("c1", "start")).accepted
        assert r.link.statuses[-1].campaigns[0].state == "running"
        reply = await r.link.pacing("c1", abandon_cap=0.02)
        assert reply.accepted, reply.reason
        assert r.link.statuses[-1].campaigns[0].abandon_cap == 0.02
        await r.stop()


async def test_what_only_the_engine_knows_reaches_the_campaigns_status(tmp_path: Path) -> None:
    """issue 12 item 2: the engine's own reasons (tests/engine/test_blocking.py words them)
    through the runner into the snapshot: a store refusing writes, a trunk that paused
    dialling with its reason, and the broker lost; each goes when its cause does."""
    async with running(tmp_path) as r:
        r.link.agent("a1", "ready")  # the campaign stays paused: nothing is dialled

        def codes() -> list[str]:
            return [b.code for b in r.engine.status().campaigns[0].blocked]

        await until(lambda: codes() == [], 5.0, "no reason while all is well")
        r.engine.writes.row_failed("attempt row", OSError(28, "No space left on device"))
        assert codes() == ["store_not_writable"]
        r.engine.writes.row_written()  # dialling stays held a second after a failed row
        await until(lambda: codes() == [], 5.0, "the store's hold over")
        r.engine.trunk_health.refused(asyncio.get_running_loop().time(), 503, 30.0)
        (paused,) = r.engine.status().campaigns[0].blocked
        assert paused.code == "trunk_paused" and "503" in paused.message, paused
        r.engine.trunk_health.carried()
        assert codes() == []
        r.link.link_down()
        assert codes() == ["agents_not_synced"]
        r.link.reconnect({"a1": "ready"})
        await until(lambda: codes() == [], 5.0, "clear again after the resync")
        await r.stop()
