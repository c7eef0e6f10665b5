"""Admission control end to end: a slow store and a lagging loop cost throughput but
never the promise, judged from the callee's side (the simulator's records)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from dialguard.demo.centre import LocalCentre
from dialguard.engine.selection import ContactPicker
from dialguard.law import CONNECT_DEADLINE_S
from dialguard.sip.simulator.profile import Profile, Shares, fixed, uniform
from dialguard.store.attempts import Attempts
from tests.support.centre import centre_options

QUICK = Profile(
    name="quick",
    shares=Shares(live=0.8, busy=0.2),
    post_dial_delay_s=uniform(0.05, 0.2),
    ring_to_answer_s=uniform(0.2, 0.6),
    busy_after_s=uniform(0.1, 0.3),
    talk_s=fixed(4),
    patience_s=fixed(3),
)


@pytest.mark.slow
async def test_a_slow_store_and_a_lagging_loop_abandon_nobody(
    broker_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every launch waits 100 ms on the store, then takes 50 ms of the loop's own time
    (a lagging loop: the CPU a launch costs, for all launches under way at once); each
    answered call's update takes 100 ms more. Launched all at once, 80 of them would hold
    the loop for 4 s. The answered callees must still reach an agent within 2 s."""
    picked = ContactPicker.next_contact
    answered = Attempts.mark_answered

    async def slow_pick(self: ContactPicker, *a: Any, **kw: Any) -> Any:
        await asyncio.sleep(0.1)  # launches under way wake together …
        time.sleep(0.05)  # noqa: ASYNC251 - … and each holds the loop itself up
        return await picked(self, *a, **kw)

    async def slow_answer(self: Attempts, *a: Any, **kw: Any) -> None:
        await asyncio.sleep(0.1)
        await answered(self, *a, **kw)

    monkeypatch.setattr(ContactPicker, "next_contact", slow_pick)
    monkeypatch.setattr(Attempts, "mark_answered", slow_answer)
    centre = LocalCentre(
        centre_options(
            broker_url, tmp_path, agents=80, contacts=1200, profile=QUICK, wrap_s=0.2,
            closed_share=0.0, dnc_share=0.0, speedup=4.0,
        )
    )  # fmt: skip
    try:
        await centre.start()
        await centre.control("start")
        await asyncio.sleep(12)
        await centre.control("pause")
        await centre.drain(20, None)
    finally:
        await centre.stop()
    records = centre.result().records
    live = [r for r in records if r.answered and r.outcome == "live"]
    assert len(live) >= 40, f"too few answers to judge: {len(live)}"
    late = [r for r in live if (r.answer_to_agent_s or 99) > CONNECT_DEADLINE_S]
    assert not [r for r in records if r.abandoned or r.silent], "abandoned or silent calls"
    assert not late, f"{len(late)} answered callees reached an agent after 2 s"
