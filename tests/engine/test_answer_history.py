"""Seeding the governor from the store: a restart keeps the abandon window (issue 17)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dialguard.config import parse_campaign
from dialguard.engine.answer_history import answer_history
from dialguard.engine.metrics import EngineMetrics
from dialguard.engine.runner import CampaignRunner, RunnerDeps
from dialguard.engine.writes import StoreWrites
from dialguard.mqtt.contract import AgentCallMessage
from dialguard.pacing import AnswerHistory, Pacer, PacingParams, UnseenAnswer
from dialguard.sip.prompt import default_prompt
from dialguard.store import Store
from tests.support.attempts import play_attempt
from tests.support.daemon import until
from tests.support.scripted import FlakyStore, ScriptedTrunk

NOW = 1_795_435_200.0  # wall clock


async def _attempt(store: Store, t: float, campaign: str = "c1", **fields: Any) -> None:
    aid = await store.attempts.open(
        campaign_id=campaign, contact_id=None, number="+12025550100", mode="predictive", now=t
    )
    await play_attempt(store, aid, invite_at=t, **fields)


async def test_the_seed_is_the_windows_live_answers_by_the_shared_definition(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        await store.campaigns.upsert("c1", "C1", "{}", state="active")
        h = 3600.0
        await _attempt(store, NOW - 25 * h, answered_at=NOW - 25 * h + 5, outcome="connected")
        await _attempt(store, NOW - 5 * h, answered_at=NOW - 5 * h + 5,
                       connected_at=NOW - 5 * h + 6, outcome="connected")  # fmt: skip
        await _attempt(store, NOW - 4 * h, answered_at=NOW - 4 * h + 5, outcome="abandoned",
                       abandoned=True, abandon_reason="no_agent")  # fmt: skip
        await _attempt(
            store,
            NOW - 3 * h,
            answered_at=NOW - 3 * h + 5,
            connected_at=NOW - 3 * h + 7.5,
            outcome="connected",
        )  # late: abandoned
        await _attempt(store, NOW - 2 * h, answered_at=NOW - 2 * h + 5, outcome="voicemail")
        await _attempt(store, NOW - 1 * h, outcome="no_answer")
        # another campaign's abandon is not this campaign's (TCPA: per campaign)
        await store.campaigns.upsert("c2", "C2", "{}", state="active")
        await _attempt(store, NOW - 1 * h, "c2", answered_at=NOW - h + 5, outcome="abandoned",
                       abandoned=True, abandon_reason="no_agent")  # fmt: skip
        day = await answer_history(store, "c1", "24h", NOW)
        month = await answer_history(store, "c1", "30d", NOW)
    assert day == AnswerHistory(
        ((NOW - 5 * h + 5, False), (NOW - 4 * h + 5, True), (NOW - 3 * h + 5, True)), NOW
    )
    assert len(month.answers) == 4  # the one 25 h ago is inside 30 days


def test_the_pacer_maps_the_wall_clock_seed_onto_its_own_clock() -> None:
    """The pacer runs on the loop's monotonic clock (here 100 s after boot); answers an
    hour ago on the wall clock are an hour ago on its clock, and stay in the window."""
    pacer = Pacer(PacingParams(mode="predictive"), now=100.0)
    seed = tuple((NOW - 3600 + i, i % 50 == 0) for i in range(100))
    pacer.handle(AnswerHistory(seed, NOW), 100.0)
    view = pacer.budget.view(100.0)
    assert (view.answered, view.abandoned) == (100, 2)
    assert pacer.budget.answers()[0][0] == 100.0 - 3600
    # 22 h later (pacer clock) they are still counted; a day after them they are gone
    assert pacer.budget.view(100.0 + 22 * 3600).answered == 100
    assert pacer.budget.view(100.0 + 86_400).answered == 0


def test_a_window_change_keeps_the_answers_the_pacer_has() -> None:
    pacer = Pacer(PacingParams(mode="predictive"), now=0.0)
    pacer.handle(AnswerHistory(tuple((NOW - 60 + i, False) for i in range(10)), NOW), 0.0)
    pacer.configure(PacingParams(mode="predictive", abandon_window="30d"), 1.0)
    assert pacer.budget.window_s == 30 * 86_400 and pacer.budget.answered == 10


# --- the runner seeds it: at start, after a window change, and again after a failed read ----


@contextlib.asynccontextmanager
async def _runner(store: Store | FlakyStore) -> AsyncIterator[CampaignRunner]:
    """A runner of campaign c1 (no agent, so it dials nothing) over ``store``."""
    campaign = parse_campaign(
        {
            "id": "c1",
            "name": "C1",
            "caller_id": "+12025550123",
            "calling_window": {"regime": "none"},
            "pacing": {"mode": "progressive", "abandon_window": "24h"},
        }
    )
    writes = StoreWrites()
    deps = RunnerDeps(
        store=store,  # type: ignore[arg-type]
        trunk=ScriptedTrunk(0.05),
        metrics=EngineMetrics(),
        publish_agent=_nobody,
        agent_uri=lambda a: f"sip:{a}@127.0.0.1",
        prompt=default_prompt(),
        writes=writes,
    )
    runner = CampaignRunner(deps, campaign, "active")
    writer = asyncio.create_task(writes.run())
    loop = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        await runner.stop(1.0)
        await asyncio.wait_for(loop, 10)
        await writes.drain(5)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


async def _nobody(agent: str, ev: AgentCallMessage) -> None:
    raise AssertionError(f"no agent is told anything here ({agent}: {ev})")


async def _history(store: Store, wall: float) -> None:
    """What an earlier process left: 40 live answers and 1 abandon in the last 2 hours,
    and 1 abandon 25 hours ago (outside 24 h, inside 30 days)."""
    await store.campaigns.upsert("c1", "C1", "{}", state="active")
    h = 3600.0
    for i in range(40):
        t = wall - 2 * h + i * 60
        await _attempt(store, t, answered_at=t + 5, connected_at=t + 6, outcome="connected")
    for t in (wall - h, wall - 25 * h):
        await _attempt(store, t, answered_at=t + 5, outcome="abandoned", abandoned=True,
                       abandon_reason="no_agent")  # fmt: skip


async def test_a_restarted_runner_carries_the_window_and_reseeds_it_on_a_window_change(
    tmp_path: Path,
) -> None:
    """Issue 17 item 4: a campaign restarted at noon used to start its 24 h budget
    afresh. The runner seeds its pacer from the store before pacing, and a change of
    abandon_window reads the new window's answers (the 30-day one holds the older
    abandon) instead of keeping the old window's."""
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        await _history(store, time.time())
        async with _runner(store) as runner:
            budget = lambda: (runner.pacer.budget.answered, runner.pacer.budget.abandoned)  # noqa: E731
            await until(lambda: budget() != (0, 0), 5, "the governor seeded at start")
            assert budget() == (41, 1)
            runner.set_pacing(runner.campaign.pacing.model_copy(update={"abandon_window": "30d"}))
            await until(lambda: budget() == (42, 2), 5, "the 30-day window read from the store")
            assert runner.pacer.budget.window_s == 30 * 86_400


async def test_a_failed_seed_read_leaves_the_budget_cold_and_is_tried_again(
    tmp_path: Path,
) -> None:
    """Fail closed: while the store cannot be read the budget knows no answers (cold: no
    over-dial), and the read is retried until it succeeds."""
    async with await Store.open(tmp_path / "s.sqlite3") as real:
        await _history(real, time.time())
        store = FlakyStore(real)
        store.failing.add("attempts.answered_since")
        async with _runner(store) as runner:
            await until(lambda: store.refused >= 2, 5, "the seed read tried again")
            assert runner.pacer.budget.state(runner.loop.time()) == "cold"
            assert runner.pacer.budget.answered == 0
            store.failing.clear()
            await until(lambda: runner.pacer.budget.answered == 41, 5, "seeded once readable")


def test_an_unseen_answer_is_mapped_onto_the_pacers_clock() -> None:
    pacer = Pacer(PacingParams(mode="predictive"), now=100.0)
    pacer.handle(UnseenAnswer(NOW - 30, True, NOW), 100.0)
    assert pacer.budget.answers() == ((70.0, True),)


async def test_a_reseed_keeps_what_the_pacer_saw_since_start_and_counts_it_once(
    tmp_path: Path,
) -> None:
    """After a window change the store gives the answers from before the runner's
    start; what came after, the pacer saw itself. One abandon it recorded is not in the
    store yet (its write is queued): it must not be dropped. One connected call is in
    both: it must not count twice."""
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        await _history(store, time.time())
        async with _runner(store) as runner:
            budget = runner.pacer.budget
            await until(lambda: budget.answered == 41, 5, "the governor seeded at start")
            now = runner.loop.time()
            runner.pacer.budget.record(now, abandoned=True)  # its row is still queued
            runner.pacer.budget.record(now, abandoned=False)  # and this one's is written:
            t = time.time()
            await _attempt(store, t - 5, answered_at=t, connected_at=t + 1, outcome="connected")
            runner.set_pacing(runner.campaign.pacing.model_copy(update={"abandon_window": "30d"}))
            # 42 answers from before the start (2 abandoned) and the pacer's own 2 (1):
            # replacing the window with the store's would give (43, 2), as before the seed
            counts = lambda: (runner.pacer.budget.answered, runner.pacer.budget.abandoned)  # noqa: E731
            await until(lambda: counts() == (44, 3), 5, "the 30-day window, nothing lost")
            await asyncio.sleep(0.2)  # and it stays so
            assert counts() == (44, 3)


def test_a_seed_with_a_cut_takes_the_store_before_it_and_the_pacers_own_after_it() -> None:
    pacer = Pacer(PacingParams(mode="predictive"), now=1000.0)
    pacer.budget.record(990.0, abandoned=True)  # seen by the pacer, after the cut
    pacer.budget.record(900.0, abandoned=False)  # before the cut: the store's word wins
    store_says = ((NOW - 500, True), (NOW - 5, False))  # the second is after the cut
    pacer.handle(AnswerHistory(store_says, NOW, until=NOW - 50), 1000.0)
    assert pacer.budget.answers() == ((500.0, True), (990.0, True))
