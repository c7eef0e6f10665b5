"""The vicidial-adapt comparator: dial level adapts within [1, 3] and obeys the limit."""

from __future__ import annotations

from dialguard.pacing import AgentChanged, Answered, Ended, Launch, PlayMessage
from dialguard.sim import S1, VicidialAdapt, simulate_day


def test_level_rises_when_agents_sit_ready_and_is_capped_at_three() -> None:
    v = VicidialAdapt(drop_limit=0.03, ring_timeout_s=20, hold_s=1.7)
    for i in range(4):
        v.handle(AgentChanged(f"a{i}", "ready"), 0.0)
    first = [d for d in v.poll(0.0) if isinstance(d, Launch)]
    assert len(first) == 4  # level 1: one call per active agent
    for t in range(15, 15 * 40, 15):
        v.poll(float(t))
    assert v.level == 3.0


def test_drop_rate_over_the_limit_after_fifty_calls_drops_the_level_to_one() -> None:
    v = VicidialAdapt(drop_limit=0.03, ring_timeout_s=20, hold_s=1.7)
    v.handle(AgentChanged("a0", "ready"), 0.0)
    v.level = 2.5
    launches = [d for d in v.poll(0.0) if isinstance(d, Launch)]
    calls = [d.call for d in launches]
    assert len(calls) >= 2
    v.answered = 60
    v.dropped = 0
    # two answers at once for one agent: the second waits, then is dropped
    v.handle(Answered(calls[0]), 1.0)
    v.handle(Answered(calls[1]), 1.0)
    v.poll(1.0)
    out = v.poll(2.8)
    assert PlayMessage(calls[1], "over_dial") in out
    v.handle(Ended(calls[1]), 3.0)
    v.dropped = 5  # 5 of 62 > 3 %
    v.poll(15.0)
    assert v.level == 1.0


def test_comparator_runs_a_simulated_day() -> None:
    day = simulate_day(S1, _make(), seed=2, hours=1)
    assert day.attempts > 100 and day.contacts > 0


def _make() -> VicidialAdapt:
    return VicidialAdapt(drop_limit=0.03, ring_timeout_s=20.0, hold_s=1.7)
