"""The campaign runner and its call jobs under faults: a store that refuses writes at
each step, a transfer that never answers, a desktop that cannot be told. Whatever
fails, the pacer's ledger returns to no reservations, the callee reaches the agent or
hears the message within 2 s of the answer, and nothing new is dialled while the store
cannot take writes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dialguard.config import parse_campaign
from dialguard.engine.metrics import EngineMetrics
from dialguard.engine.runner import CampaignRunner, CampaignState, RunnerDeps
from dialguard.engine.writes import StoreWrites
from dialguard.mqtt.contract import AgentCallMessage
from dialguard.pacing.events import AgentChanged
from dialguard.sip.api import TrunkEvent, TrunkEventKind
from dialguard.sip.prompt import default_prompt
from dialguard.store import NewContact, Store
from tests.support.daemon import until
from tests.support.scripted import FlakyStore, ScriptedCall, ScriptedTrunk

NUMBERS = [f"+4420794601{n:02d}" for n in range(10)]


@dataclass
class Rig:
    runner: CampaignRunner
    trunk: ScriptedTrunk
    store: FlakyStore
    writes: StoreWrites
    told: list[tuple[str, AgentCallMessage]]

    async def call(self, n: int, within: float = 5.0) -> ScriptedCall:
        await until(lambda: len(self.trunk.calls) >= n, within, f"dial {n}")
        return self.trunk.calls[n - 1]

    def settled(self) -> bool:
        p = self.runner.pacer
        return not p.reservations() and not p.tracked_calls()


@contextlib.asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    transfer_s: float | None = 0.05,
    publish: Callable[[str, AgentCallMessage], Awaitable[None]] | None = None,
    pacing: dict[str, Any] | None = None,
    state: CampaignState = "active",
    dnc_lists: list[str] | None = None,
) -> AsyncIterator[Rig]:
    async with await Store.open(tmp_path / "store.sqlite3") as real:
        await real.campaigns.upsert("c1", "Faults", "{}")
        await real.contacts.insert("c1", [NewContact(number=n, region="GB") for n in NUMBERS])
        campaign = parse_campaign(
            {
                "id": "c1",
                "name": "Faults",
                "caller_id": "+12025550123",
                "calling_window": {"regime": "none"},
                "pacing": {"mode": "progressive", **(pacing or {})},
                "dnc": {"lists": dnc_lists or []},
            }
        )
        store = FlakyStore(real)
        trunk = ScriptedTrunk(transfer_s)
        writes = StoreWrites()
        told: list[tuple[str, AgentCallMessage]] = []

        async def record(agent: str, ev: AgentCallMessage) -> None:
            told.append((agent, ev))

        deps = RunnerDeps(
            store=store,  # type: ignore[arg-type]
            trunk=trunk,
            metrics=EngineMetrics(),
            publish_agent=publish or record,
            agent_uri=lambda a: f"sip:{a}@127.0.0.1",
            prompt=default_prompt(),
            writes=writes,
        )
        runner = CampaignRunner(deps, campaign, state)
        assert runner.check_invariants, "tests run with DIALGUARD_CHECK_INVARIANTS=1"
        writer = asyncio.create_task(writes.run())
        loop = asyncio.create_task(runner.run())
        try:
            yield Rig(runner, trunk, store, writes, told)
        finally:
            await runner.stop(1.0)
            await asyncio.wait_for(loop, 10)
            store.failing.clear()
            await writes.drain(5)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


# --- a store that refuses writes --------------------------------------------------------

ATTEMPT_UPDATES = ("attempts.mark_*", "attempts.settle", "attempts.apply_updates")
WRITES = {
    "contact moves": tuple(
        f"contacts.{m}"
        for m in ("claim", "claim_due", "release", "release_many", "defer", "close", "settle")
    ),
    "attempt row": ("attempts.open",),
    "attempt updates": ATTEMPT_UPDATES,
    "contact read": ("contacts.get",),
    "internal DNC entry": ("dnc.add",),
}


@pytest.mark.parametrize("failing", WRITES)
async def test_a_failing_store_write_leaves_no_reservation_and_no_silent_call(
    tmp_path: Path, failing: str
) -> None:
    async with rig(tmp_path) as r:
        r.store.failing.update(WRITES[failing])
        r.runner.report(AgentChanged("a1", "ready"))
        await asyncio.sleep(0.3)
        placed = len(r.trunk.calls)
        if placed:
            [call] = r.trunk.calls  # one agent: one call at a time
            call.ring()
            call.answer()
            await until(lambda: call.transfers, 2, "the transfer")
            assert call.transfers[0][0] - (call.answered_t or 0) < 0.5
            await until(lambda: r.runner.counts.connects, 2, "connected")
            if failing == "internal DNC entry":  # the opt-out key: an internal DNC entry
                call.push(TrunkEventKind.DTMF, digit=r.runner.campaign.opt_out_digit)
            call.end()
        ended = set(range(placed))

        def settled() -> bool:
            # A dial may go out for the freed agent before the failing write is first
            # tried (a prefetched contact needs no store read): it fails unanswered.
            for i, extra in enumerate(r.trunk.calls):
                if i not in ended:
                    ended.add(i)
                    extra.push(TrunkEventKind.FAILED, code=480)
            return r.settled()

        await until(settled, 5, "the pacer's ledger to empty")
        assert r.store.refused >= 1, "the fault was never hit"
        # the agent is free again: as soon as the store heals, dialling resumes
        r.store.failing.clear()
        placed = len(r.trunk.calls)
        r.runner.report(AgentChanged("a1", "ready"))
        await r.call(placed + 1, within=10)
    async with await Store.open(tmp_path / "store.sqlite3") as store:
        attempts = await store.attempts.of_campaign("c1", 0, time.time() + 60)
    first = attempts[0]
    if placed:
        assert first.answered_at is not None and first.connected_at is not None
        assert first.outcome == "connected", first


async def test_no_new_dial_while_writes_fail_and_resume_after(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.runner.report(AgentChanged("a1", "ready"))
        call = await r.call(1)
        r.store.failing.update(ATTEMPT_UPDATES)
        call.ring()
        call.answer()
        await until(lambda: r.runner.counts.connects, 2, "connected")
        call.end()
        await until(lambda: not r.writes.healthy, 3, "the queue to see the fault")
        await asyncio.sleep(1.5)
        assert len(r.trunk.calls) == 1, "dialled while the store refused writes"
        assert not r.runner.pacer.reservations() or r.runner.pacer.in_flight() == {}
        r.store.failing.clear()
        await r.call(2, within=5)  # resumed by itself
        assert r.writes.healthy


async def test_a_started_campaign_dials_at_once_after_sitting_paused(tmp_path: Path) -> None:
    """While paused nothing is dialled; on start the free agent is dialled for in the
    same step (it used to wait out a 5 s no-contact backoff the paused ticks built up)."""
    async with rig(tmp_path, state="paused") as r:
        r.runner.report(AgentChanged("a1", "ready"))
        await asyncio.sleep(1.5)  # a few paced steps while paused
        assert r.trunk.calls == [], "dialled while paused"
        started = time.monotonic()
        r.runner.set_state("active")
        await r.call(1, within=5)
        assert time.monotonic() - started < 3.0  # not the 5 s backoff


# --- the connect deadline ------------------------------------------------------------------


@pytest.mark.parametrize("transfer_timeout_s", [1.0, 10.0])
async def test_a_transfer_that_never_answers_hears_the_message_within_2_s(
    tmp_path: Path, transfer_timeout_s: float
) -> None:
    """However long the engine would give a transfer, the 2 s from the answer win."""
    async with rig(tmp_path, transfer_s=None) as r:
        r.runner._ctx.transfer_timeout_s = transfer_timeout_s
        r.runner.report(AgentChanged("a1", "ready"))
        call = await r.call(1)
        call.ring()
        call.answer()
        await until(lambda: call.played_at is not None, 3, "the information message")
        assert call.answered_t is not None and call.played_at is not None
        assert call.played_at - call.answered_t <= 2.0
        c = r.runner.pacer.counters(0)
        assert c.abandoned_total == 1 and c.connected_total == 1
        await until(lambda: call.hung_up, 10, "the hang-up after the message")
        await until(r.settled, 5, "the ledger to empty")
    async with await Store.open(tmp_path / "store.sqlite3") as store:
        [a] = await store.attempts.of_campaign("c1", 0, time.time() + 60)
    assert a.abandoned and a.abandon_reason in ("transfer_failed", "connect_timeout")
    assert a.connected_at is None and a.message_played_at is not None


async def test_the_refer_does_not_wait_for_the_desktop(tmp_path: Path) -> None:
    """A broker stall: telling the desktop hangs; the transfer still starts at once."""

    async def stalled(agent: str, ev: AgentCallMessage) -> None:
        await asyncio.sleep(30)

    async with rig(tmp_path, publish=stalled) as r:
        r.runner.report(AgentChanged("a1", "ready"))
        call = await r.call(1)
        call.ring()
        call.answer()
        await until(lambda: call.transfers, 2, "the transfer")
        assert call.answered_t is not None
        assert call.transfers[0][0] - call.answered_t < 0.3
        await until(lambda: r.runner.counts.connects, 2, "connected")
        assert call.played_at is None
        r.runner.report(AgentChanged("a1", "paused"))  # else the next dial reserves a1
        call.end()
        await until(r.settled, 5, "the ledger to empty")


async def test_an_answer_is_connected_in_its_own_turn_of_the_loop(tmp_path: Path) -> None:
    """The pacer's Connect for an answer is carried out inside the 200 OK's handler,
    before it returns: no turn of the event loop (at load, every ready call's callbacks)
    waits between the answer and the start of the transfer."""
    async with rig(tmp_path) as r:
        r.runner.report(AgentChanged("a1", "ready"))
        call = await r.call(1)
        call.ring()
        await until(lambda: any(j._ringing for j in r.runner.jobs.values()), 2, "ringing")
        [job] = r.runner.jobs.values()
        connects: list[str] = []
        connect = job.connect

        def recorded(agent: str) -> None:
            connects.append(agent)
            connect(agent)

        job.connect = recorded  # type: ignore[method-assign]
        answered = TrunkEvent(TrunkEventKind.ANSWERED, asyncio.get_running_loop().time())
        job._on_event(answered)  # what follow() does with the 200 OK, in one step
        assert connects == ["a1"]
        assert job._connecting is not None  # the transfer's task exists already
        await until(lambda: r.runner.counts.connects, 2, "connected")
        r.runner.report(AgentChanged("a1", "paused"))  # else the next dial reserves a1
        call.end()
        await until(r.settled, 5, "the ledger to empty")


async def test_the_desktop_is_told_the_wrap_up_cap_with_the_end_of_the_call(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, pacing={"wrap_up_cap_s": 20}) as r:
        r.runner.report(AgentChanged("a1", "ready"))
        call = await r.call(1)
        call.answer()
        await until(lambda: r.runner.counts.connects, 2, "connected")
        call.end()
        await until(lambda: any(e.event == "ended" for _, e in r.told), 2, "ended")
    [ended] = [e for _, e in r.told if e.event == "ended"]
    assert ended.wrap_up_cap_s == 20
    assert [e.event for _, e in r.told][:2] == ["offer", "connected"]


# --- the trunk refusing calls --------------------------------------------------------------


async def test_a_503_storm_costs_no_contact_an_attempt_and_dialling_resumes(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        r.runner.report(AgentChanged("a1", "ready"))
        first = await r.call(1)
        first.push(TrunkEventKind.FAILED, code=503, retry_after=3.0)
        refused_at = time.monotonic()
        await until(lambda: r.runner.deps.trunk_health.view().state == "open", 2, "pause")
        probe = await r.call(2, within=15)  # the probe, after Retry-After
        assert time.monotonic() - refused_at >= 3.0 - 0.05
        probe.ring()  # the trunk carries calls again
        await until(lambda: r.runner.deps.trunk_health.view().state == "closed", 2, "closed")
        probe.answer()
        await until(lambda: r.runner.counts.connects, 2, "connected")
        r.runner.report(AgentChanged("a1", "paused"))
        probe.end()
        await until(r.settled, 5, "the ledger to empty")
        await r.writes.drain(5)
        async with await Store.open(tmp_path / "store.sqlite3") as store:
            attempts = await store.attempts.of_campaign("c1", 0, time.time() + 60)
            refused = [a for a in attempts if a.trunk_fault]
            assert len(refused) == 1 and refused[0].sip_code == 503
            contact = await store.contacts.get(refused[0].contact_id or 0)
        assert contact is not None and contact.attempts == 0 and contact.status == "pending"
        assert contact.next_attempt_at is not None


async def test_a_campaign_whose_list_was_never_imported_reserves_nobody_until_it_is(
    tmp_path: Path,
) -> None:
    """The gate would refuse every contact, so the runner proposes no launch at all: no
    agent is held "reserved" for a pick that must fail (CI's README walk-through showed
    four). Once the list is imported, dialling starts within the reasons' refresh."""
    async with rig(tmp_path, dnc_lists=["tps"]) as r:
        picks = 0
        pick = r.runner.picker.next_contact

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal picks
            picks += 1
            return await pick(*args, **kwargs)

        r.runner.picker.next_contact = counted  # type: ignore[method-assign]
        for agent in ("a1", "a2"):
            r.runner.report(AgentChanged(agent, "ready"))
        held = 0
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            held = max(held, len(r.runner.pacer.reservations()))
            await asyncio.sleep(0.01)
        assert (picks, held, r.trunk.calls) == (0, 0, [])
        assert "dnc_list_missing" in [b.code for b in r.runner.blocking_reasons()]
        today = time.strftime("%Y-%m-%d", time.gmtime())
        await r.store.dnc.record_list("tps", today, 0)
        await r.call(1, within=6.0)
