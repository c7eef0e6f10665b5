"""The runner's side of the call reports: each fact lands in the status counts and the
Prometheus series of its campaign, and the trunk's refusals drive the breaker."""

from __future__ import annotations

from dialguard.engine.call_tally import CallTally
from dialguard.engine.calls import CallReports
from dialguard.engine.metrics import EngineMetrics
from dialguard.engine.trunk_health import TrunkBreaker


def tally(now: list[float]) -> tuple[CallTally, EngineMetrics, TrunkBreaker]:
    m, b = EngineMetrics(), TrunkBreaker()
    return CallTally("c1", m, b, clock=lambda: now[0], wall=lambda: 1_000.0 + now[0]), m, b


def sample(m: EngineMetrics, name: str, **labels: str) -> float:
    return m.registry.get_sample_value(name, {"campaign": "c1", **labels}) or 0.0


def test_each_fact_is_counted_once_in_status_and_metrics() -> None:
    t, m, _ = tally([0.0])
    reports: CallReports = t
    reports.answered()
    reports.answered()
    reports.connected(0.4)
    reports.abandoned("no_agent")
    reports.finished("connected")
    reports.finished("abandoned")
    reports.opted_out()
    c = t.counts
    assert (c.answers, c.connects, c.abandoned) == (2, 1, 1)
    assert sample(m, "dialguard_answers_total") == 2
    assert sample(m, "dialguard_connects_total") == 1
    assert sample(m, "dialguard_abandoned_total", reason="no_agent") == 1
    assert sample(m, "dialguard_call_outcomes_total", outcome="abandoned") == 1
    assert sample(m, "dialguard_opt_outs_total") == 1
    assert sample(m, "dialguard_answer_to_agent_seconds_count") == 1
    assert sample(m, "dialguard_answer_to_agent_seconds_sum") == 0.4


def test_a_retry_after_pauses_the_trunk_and_the_contact_is_due_after_it() -> None:
    now = [50.0]
    t, m, b = tally(now)
    due = t.trunk_refused(503, 30.0)
    assert due == 1_000.0 + 50.0 + 30.0
    assert b.paused(now[0])
    assert m.registry.get_sample_value("dialguard_trunk_paused") == 1
    now[0] = 90.0
    t.trunk_carried()
    assert not b.paused(now[0])
    assert m.registry.get_sample_value("dialguard_trunk_paused") == 0
