"""Unit tests for the pacer, mode by mode, driven with plain calls and a hand-set clock."""

from __future__ import annotations

import pytest

from dialguard.pacing import (
    AgentChanged,
    Answered,
    Connect,
    Connected,
    ConnectFailed,
    CouldNotLaunch,
    Ended,
    Failed,
    Launch,
    Launched,
    LaunchGate,
    Pacer,
    PacingError,
    PacingParams,
    PacingParamsError,
    PacingProtocolError,
    PlayMessage,
    PreviewRequested,
    Release,
    Reserve,
    Ringing,
)


def ready(p: Pacer, *agents: str, now: float = 0.0) -> None:
    for a in agents:
        p.handle(AgentChanged(a, "ready"), now)


def launches(decisions: list[object]) -> list[Launch]:
    return [d for d in decisions if isinstance(d, Launch)]


def test_progressive_dials_once_per_free_agent_and_reserves_it() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1", "a2")
    out = launches(p.poll(0.0))
    assert [(d.agent, d.guaranteed) for d in out] == [("a1", True), ("a2", True)]
    assert p.reservations() == {"a1": out[0].call, "a2": out[1].call}
    assert p.poll(1.0) == []  # nobody free: nothing more


def test_a_launch_limit_dials_for_that_many_agents_and_the_rest_at_a_later_poll() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1", "a2", "a3")
    first = launches(p.poll(0.0, launch_limit=2))
    assert [d.agent for d in first] == ["a1", "a2"]
    assert launches(p.poll(0.1, launch_limit=0)) == []
    assert [d.agent for d in launches(p.poll(0.2, launch_limit=5))] == ["a3"]
    p.check_invariants()


def test_a_launch_limit_never_holds_back_a_connect() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1", "a2")
    (launch, _) = launches(p.poll(0.0))
    p.handle(Launched(launch.call), 0.1)
    p.handle(Answered(launch.call), 1.0)
    assert p.poll(1.0, launch_limit=0) == [Connect(launch.call, "a1")]


def test_answered_call_connects_to_its_reserved_agent_in_the_same_poll() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(Launched(launch.call), 0.1)
    p.handle(Ringing(launch.call), 2.0)
    p.handle(Answered(launch.call), 8.0)
    assert p.poll(8.0) == [Connect(launch.call, "a1")]
    assert p.reservations() == {}


def test_failed_call_releases_the_agent_who_is_dialled_for_again() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (first,) = launches(p.poll(0.0))
    p.handle(Failed(first.call, "busy"), 3.0)
    out = p.poll(3.0)
    assert out[0] == Release(first.call, "a1", "failed")
    (second,) = launches(out)
    assert second.agent == "a1" and second.call != first.call


def test_no_contact_releases_and_backs_off_before_dialling_again() -> None:
    p = Pacer(PacingParams(no_contact_backoff_s=5.0))
    ready(p, "a1")
    (first,) = launches(p.poll(0.0))
    p.handle(CouldNotLaunch(first.call), 1.0)
    assert p.poll(1.0) == [Release(first.call, "a1", "no_contact")]
    assert p.next_deadline() == pytest.approx(6.0)
    assert launches(p.poll(5.9)) == []
    assert [d.agent for d in launches(p.poll(6.0))] == ["a1"]


def test_a_closed_gate_holds_new_dials_and_opening_it_dials_at_once() -> None:
    """Refusals while dialling is held (paused, store, broker) are not "no contact":
    when the hold ends the free agent is dialled for in the same poll, not 5 s later."""
    p = Pacer(PacingParams(no_contact_backoff_s=5.0))
    ready(p, "a1")
    (first,) = launches(p.poll(0.0))
    p.handle(CouldNotLaunch(first.call), 0.0)  # refused: the store stopped taking writes
    p.handle(LaunchGate(open=False), 0.1)
    assert launches(p.poll(0.1)) == []
    assert p.next_deadline() is None  # nothing to wake for while held
    assert launches(p.poll(30.0)) == []
    p.handle(LaunchGate(open=True), 31.0)
    assert [d.agent for d in launches(p.poll(31.0))] == ["a1"]


def test_agent_vanishing_moves_the_reservation_to_a_free_agent() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    ready(p, "a2", now=1.0)  # a2 becomes free but poll has not run yet
    p.handle(AgentChanged("a1", "offline"), 1.0)
    out = p.poll(1.0)
    assert Release(launch.call, "a1", "agent_lost") in out
    assert Reserve(launch.call, "a2") in out
    p.handle(Answered(launch.call), 5.0)
    assert p.poll(5.0) == [Connect(launch.call, "a2")]


def test_orphan_takes_the_next_free_agent_before_any_new_dial() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(AgentChanged("a1", "paused"), 1.0)
    assert p.poll(1.0) == [Release(launch.call, "a1", "agent_lost")]
    ready(p, "a2", now=2.0)
    assert p.poll(2.0) == [Reserve(launch.call, "a2")]  # no new Launch for a2


def test_orphan_answered_with_nobody_free_hears_the_message_at_the_hold_deadline() -> None:
    p = Pacer(PacingParams(connect_deadline_s=2.0, connect_latency_s=0.5))
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(AgentChanged("a1", "offline"), 1.0)
    p.poll(1.0)
    p.handle(Answered(launch.call), 4.0)
    assert p.poll(4.0) == []
    assert p.next_deadline() == pytest.approx(5.5)
    assert p.poll(5.5) == [PlayMessage(launch.call, "agent_lost")]
    assert p.counters(5.5).abandoned_total == 1


def test_orphan_answered_connects_if_an_agent_frees_within_the_hold() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(AgentChanged("a1", "offline"), 1.0)
    p.poll(1.0)
    p.handle(Answered(launch.call), 4.0)
    p.poll(4.0)
    ready(p, "a3", now=4.5)
    assert p.poll(4.5) == [Connect(launch.call, "a3")]


def test_busy_agent_is_not_dialled_for_until_the_call_ends_and_they_are_ready() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(Answered(launch.call), 5.0)
    p.poll(5.0)
    ready(p, "a1", now=5.2)  # a stale duplicate 'ready' must not free a connecting agent
    assert launches(p.poll(5.2)) == []
    p.handle(Connected(launch.call), 5.5)
    p.handle(AgentChanged("a1", "busy"), 5.5)
    p.handle(Ended(launch.call), 60.0)
    p.handle(AgentChanged("a1", "wrap"), 60.0)
    assert launches(p.poll(60.0)) == []
    p.handle(AgentChanged("a1", "ready"), 75.0)
    assert [d.agent for d in launches(p.poll(75.0))] == ["a1"]


def test_connect_failed_plays_the_message_and_sidelines_the_agent() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(Answered(launch.call), 5.0)
    p.poll(5.0)
    p.handle(ConnectFailed(launch.call), 7.0)
    assert p.poll(7.0) == [PlayMessage(launch.call, "agent_lost")]
    assert (a := p.agent("a1")) is not None and a.state == "paused"


def _warm(p: Pacer, agent: str, n: int, answer_after: float = 6.0) -> float:
    """Run ``n`` answered-and-ended calls through ``agent`` to warm the statistics."""
    t = 0.0
    for _ in range(n):
        (launch,) = [d for d in launches(p.poll(t)) if d.agent == agent]
        p.handle(Launched(launch.call), t)
        p.handle(Ringing(launch.call), t + 1)
        t += answer_after
        p.handle(Answered(launch.call), t)
        p.poll(t)
        p.handle(Connected(launch.call), t)
        p.handle(AgentChanged(agent, "busy"), t)
        t += 30
        p.handle(Ended(launch.call), t)
        p.handle(AgentChanged(agent, "wrap"), t)
        t += 10
        p.handle(AgentChanged(agent, "ready"), t)
    return t


def _answer_ahead(p: Pacer) -> tuple[float, int]:
    """a1 finishes a call at t=100 and wraps; the pacer dials ahead for a1 (cap 10 s)."""
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(Answered(launch.call), 5.0)
    assert p.poll(5.0) == [Connect(launch.call, "a1")]
    p.handle(Connected(launch.call), 5.2)
    p.handle(AgentChanged("a1", "busy"), 5.2)
    p.handle(Ended(launch.call), 100.0)
    p.handle(AgentChanged("a1", "wrap"), 100.0)
    lead = p.dial_ahead_lead()
    assert 0 < lead < p.params.hold_s  # never more than the hold time ahead of the cap
    assert launches(p.poll(100.0)) == []  # not yet: the wrap-up has 10 s to go
    assert p.next_deadline() == pytest.approx(110.0 - lead)
    (ahead,) = launches(p.poll(110.0 - lead))
    assert ahead.agent == "a1" and ahead.guaranteed
    p.check_invariants()
    return 110.0 - lead, ahead.call


def test_dial_ahead_answered_in_wrap_waits_for_the_ready_then_connects() -> None:
    p = Pacer(PacingParams(dial_ahead_wrap=True, wrap_up_cap_s=10.0))
    t, call = _answer_ahead(p)
    p.handle(Answered(call), t + 0.1)  # answered at once: a1 is still in wrap-up
    assert p.poll(t + 0.1) == []  # no Connect to an agent in wrap-up
    assert p.reservations() == {"a1": call}  # the reservation is kept
    p.check_invariants()
    p.handle(AgentChanged("a1", "ready"), 110.0)  # the engine's auto-ready at the cap
    assert p.poll(110.0) == [Connect(call, "a1")]
    p.check_invariants()


def test_dial_ahead_answered_in_wrap_takes_another_free_agent_sooner() -> None:
    p = Pacer(PacingParams(dial_ahead_wrap=True, wrap_up_cap_s=10.0))
    t, call = _answer_ahead(p)
    p.handle(Answered(call), t + 0.1)
    p.poll(t + 0.1)
    p.handle(AgentChanged("a2", "ready"), t + 0.2)
    out = p.poll(t + 0.2)
    assert out[:2] == [Release(call, "a1", "moved"), Connect(call, "a2")]
    assert p.reservations().get("a1") != call  # a1 may be dialled ahead for anew
    p.check_invariants()


def test_dial_ahead_answered_in_wrap_hears_the_message_at_the_hold_deadline() -> None:
    p = Pacer(PacingParams(dial_ahead_wrap=True, wrap_up_cap_s=10.0))
    t, call = _answer_ahead(p)
    p.handle(Answered(call), t + 0.1)
    p.poll(t + 0.1)
    assert p.next_deadline() == pytest.approx(t + 0.1 + p.params.hold_s)
    out = p.poll(t + 0.1 + p.params.hold_s)  # a1 never became ready (the cap not kept)
    assert out[:2] == [Release(call, "a1", "no_agent"), PlayMessage(call, "no_agent")]
    assert p.reservations().get("a1") != call and p.abandoned_total == 1
    p.check_invariants()


def test_dial_ahead_without_a_wrap_up_cap_is_refused() -> None:
    with pytest.raises(PacingParamsError, match=r"dial_ahead_wrap: needs wrap_up_cap_s"):
        Pacer(PacingParams(dial_ahead_wrap=True))
    assert Pacer(PacingParams()).params.wrap_up_cap_s is None  # no cap unless configured


def test_connect_not_confirmed_by_the_deadline_hears_the_message_and_pauses_the_agent() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(Answered(launch.call), 8.0)
    assert p.poll(8.0) == [Connect(launch.call, "a1")]
    assert p.next_deadline() == pytest.approx(8.0 + p.params.connect_deadline_s)
    assert p.poll(9.9) == []
    assert p.poll(10.0) == [PlayMessage(launch.call, "connect_timeout")]
    a1 = p.agent("a1")
    assert p.abandoned_total == 1 and a1 is not None and a1.state == "paused"
    p.check_invariants()
    p.handle(Connected(launch.call), 10.3)  # late: tolerated, changes nothing
    p.handle(ConnectFailed(launch.call), 10.4)
    assert p.poll(10.5) == [] and p.abandoned_total == 1
    p.check_invariants()
    p.handle(AgentChanged("a1", "ready"), 11.0)  # the desktop reports again
    assert [d.agent for d in launches(p.poll(11.0))] == ["a1"]
    p.handle(Ended(launch.call), 20.0)
    p.check_invariants()


def test_connected_for_a_call_never_connected_is_still_a_protocol_error() -> None:
    p = Pacer(PacingParams(mode="predictive"))
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    p.handle(AgentChanged("a1", "offline"), 1.0)  # reservation lost; nobody else
    p.poll(1.0)
    p.handle(Answered(launch.call), 2.0)
    p.poll(2.0)
    p.poll(2.0 + p.params.hold_s)  # message: no agent
    with pytest.raises(PacingProtocolError, match="never connected"):
        p.handle(Connected(launch.call), 4.0)


def test_check_invariants_sees_a_corrupted_ledger() -> None:
    from dialguard.pacing import PacerInvariantError

    p = Pacer(PacingParams())
    ready(p, "a1", "a2")
    out = launches(p.poll(0.0))
    p.check_invariants()
    p.agents["a2"].reserved_for = out[0].call  # two agents held for one call
    with pytest.raises(PacerInvariantError, match="a2: reserved for call"):
        p.check_invariants()
    p.agents["a2"].reserved_for = out[1].call
    p.check_invariants()
    p.answered_total += 1  # an answer nobody accounts for
    with pytest.raises(PacerInvariantError, match="answered 1"):
        p.check_invariants()
    assert issubclass(PacerInvariantError, AssertionError)


def test_without_dial_ahead_an_agent_in_wrap_is_never_dialled_for() -> None:
    p = Pacer(PacingParams(dial_ahead_wrap=False))
    ready(p, "a1")
    t = _warm(p, "a1", 40)
    (launch,) = launches(p.poll(t))
    p.handle(Failed(launch.call, "no_answer"), t + 20)
    p.handle(AgentChanged("a1", "wrap"), t + 20)
    assert launches(p.poll(t + 1000)) == []


def test_preview_dials_only_on_request_and_refuses_bad_requests() -> None:
    p = Pacer(PacingParams(mode="preview"))
    ready(p, "a1")
    assert p.poll(0.0) == []
    p.handle(PreviewRequested("a1"), 1.0)
    (launch,) = launches(p.poll(1.0))
    assert launch.agent == "a1" and launch.guaranteed
    with pytest.raises(PacingError, match=r"a1.*not free"):
        p.handle(PreviewRequested("a1"), 2.0)
    with pytest.raises(PacingError, match=r"nobody.*not free"):
        p.handle(PreviewRequested("nobody"), 2.0)
    q = Pacer(PacingParams())
    ready(q, "a1")
    with pytest.raises(PacingError, match="mode is progressive"):
        q.handle(PreviewRequested("a1"), 0.0)


def test_ring_timeout_is_the_configured_one_until_learning_is_on_and_never_below_15() -> None:
    assert Pacer(PacingParams(ring_timeout_s=25.0)).ring_timeout() == 25.0
    p = Pacer(PacingParams(ring_timeout_s=25.0, learn_ring_timeout=True))
    ready(p, "a1")
    t = 0.0
    # 400 attempts: a third answered after 5 s of ringing, the rest never answered
    for i in range(400):
        (launch,) = launches(p.poll(t))
        p.handle(Launched(launch.call), t)
        p.handle(Ringing(launch.call), t + 1)
        if i % 3 == 0:
            p.handle(Answered(launch.call), t + 6)
            p.poll(t + 6)
            p.handle(Connected(launch.call), t + 6)
            p.handle(Ended(launch.call), t + 66)
            t += 66
        else:
            t += 1 + launch.ring_timeout_s
            p.handle(Failed(launch.call, "no_answer"), t)
    assert p.ring_timeout() == 15.0  # late ringing brought nothing: shortest legal


def test_unknown_or_impossible_call_events_raise_naming_the_call() -> None:
    p = Pacer(PacingParams())
    ready(p, "a1")
    (launch,) = launches(p.poll(0.0))
    with pytest.raises(PacingProtocolError, match="unknown call 999"):
        p.handle(Answered(999), 1.0)
    with pytest.raises(PacingProtocolError, match=f"call {launch.call}: Connected"):
        p.handle(Connected(launch.call), 1.0)
    with pytest.raises(PacingProtocolError, match="unknown state"):
        p.handle(AgentChanged("a1", "dancing"), 1.0)  # type: ignore[arg-type]
    p.handle(Ringing(launch.call), 2.0)
    p.handle(Ringing(launch.call), 2.1)  # a duplicate is tolerated
    assert p.in_flight()[launch.call].ringing_at == 2.0


def test_params_below_legal_floors_are_refused_naming_each_field() -> None:
    with pytest.raises(PacingParamsError) as e:
        Pacer(PacingParams(ring_timeout_s=10.0, abandon_cap=0.05, max_dial_ratio=4.0))
    text = str(e.value)
    assert "ring_timeout_s" in text and "abandon_cap" in text and "max_dial_ratio" in text
    p = Pacer(PacingParams())
    with pytest.raises(PacingParamsError, match="mode"):
        p.configure(PacingParams(mode="turbo"), 0.0)  # type: ignore[arg-type]
    assert p.params.mode == "progressive"


# ---------------------------------------------------------------- predictive


def _predictive_warm(n_agents: int = 4, answers: int = 80) -> tuple[Pacer, float, list[Launch]]:
    """A predictive pacer whose governor is past its cold start (every third dial answers)."""
    p = Pacer(PacingParams(mode="predictive", warmup_answers=50))
    ready(p, *[f"a{i}" for i in range(n_agents)])
    t = 0.0
    done = 0
    pending = p.poll(t)
    while done < answers:
        t += 21
        for d in launches(pending):
            p.handle(Launched(d.call), t - 21)
            p.handle(Ringing(d.call), t - 20)
            if d.call % 3 == 0:
                p.handle(Answered(d.call), t - 15)
            else:
                p.handle(Failed(d.call, "no_answer"), t - 15)
        pending = p.poll(t - 15)
        for c in [d for d in pending if isinstance(d, Connect)]:
            p.handle(Connected(c.call), t - 15)
            p.handle(Ended(c.call), t - 1)
            done += 1
        for m in [d for d in pending if isinstance(d, PlayMessage)]:
            p.handle(Ended(m.call), t - 1)
        pending = [d for d in pending if isinstance(d, Launch)] + p.poll(t)
    return p, t, launches(pending)


def test_predictive_cold_start_dials_like_progressive() -> None:
    p = Pacer(PacingParams(mode="predictive"))
    ready(p, "a1", "a2")
    out = launches(p.poll(0.0))
    assert [(d.agent, d.guaranteed) for d in out] == [("a1", True), ("a2", True)]
    assert p.counters(0.0).governor_state == "cold"


def test_predictive_over_dials_once_warm_and_stops_when_switched_to_progressive() -> None:
    p, t, out = _predictive_warm()
    assert p.counters(t).governor_state == "open"
    over = [d for d in out if d.agent is None]
    assert over and all(not d.guaranteed for d in over)
    p.configure(PacingParams(mode="progressive"), t + 2)
    assert all(c.guaranteed for c in p.in_flight().values() if c.agent is not None)
    assert all(d.agent is not None for d in launches(p.poll(t + 30)))


def test_predictive_over_dial_answered_with_no_agent_hears_the_message() -> None:
    p, t, out = _predictive_warm()
    over = [d for d in out if d.agent is None]
    reserved = [d for d in out if d.agent is not None]
    # every agent is taken by an answered call: reserved ones first, then an over-dial
    for d in reserved:
        p.handle(Answered(d.call), t + 2)
    p.poll(t + 2)
    for d in reserved:
        p.handle(Connected(d.call), t + 2.3)  # else the connect deadline would fire
    p.handle(Answered(over[0].call), t + 3)
    assert p.poll(t + 3) == []
    assert p.poll(t + 3 + p.params.hold_s) == [PlayMessage(over[0].call, "over_dial")]


def test_predictive_lends_a_ringing_calls_agent_to_an_answered_over_dial() -> None:
    p, t, out = _predictive_warm(n_agents=2)
    over = [d for d in out if d.agent is None]
    reserved = [d for d in out if d.agent is not None]
    assert over and reserved and not reserved[0].guaranteed
    p.handle(Answered(over[0].call), t + 2)
    got = p.poll(t + 2)
    moved = [d for d in got if isinstance(d, Release) and d.reason == "moved"]
    assert len(moved) == 1
    assert Connect(over[0].call, moved[0].agent) in got


def test_predictive_timer_is_never_in_the_past_nor_set_while_cold() -> None:
    p = Pacer(PacingParams(mode="predictive"))
    ready(p, "a1")
    p.poll(0.0)
    assert p.next_deadline() is None  # cold: nothing to re-weigh, no busy loop
    w, t, _ = _predictive_warm()
    deadline = w.next_deadline()
    assert deadline is not None and deadline >= t


def test_predictive_falls_back_to_guaranteed_when_the_budget_is_spent() -> None:
    p, t, out = _predictive_warm()
    assert any(d.agent is None for d in out)
    for _ in range(10):  # a burst of abandons spends the budget
        p.budget.record(t, abandoned=True)
    assert p.counters(t).governor_state == "spent"
    for d in out:  # every dial out fails; agents come free
        p.handle(Failed(d.call, "no_answer"), t + 20)
    again = launches(p.poll(t + 21))
    assert again and all(d.agent is not None and d.guaranteed for d in again)
    assert p.counters(t + 21).over_dial_allowance == 0


def test_predictive_is_cold_again_after_a_window_rollover() -> None:
    p, t, out = _predictive_warm()
    for d in out:
        p.handle(Failed(d.call, "no_answer"), t + 20)
    next_day = t + 86_400
    again = launches(p.poll(next_day))
    assert p.counters(next_day).governor_state == "cold"
    assert again and all(d.agent is not None and d.guaranteed for d in again)
