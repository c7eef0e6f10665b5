"""Agent registry: ordering, heartbeats, staleness and fail-closed behaviour."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialguard.config import Roster
from dialguard.engine.agents import AgentChange, AgentRegistry, Rejected
from dialguard.mqtt.contract import AgentStateMessage, AgentStateName
from dialguard.pacing.events import AgentChanged

T0 = 1_800_000_000.0


def st_(
    state: AgentStateName, seq: int, ts: float = T0, session: str = "s1", group: str = "default"
) -> AgentStateMessage:
    return AgentStateMessage(state=state, seq=seq, ts=ts, session=session, group=group)


# The agents these tests use; a, x and y serve "sales", z "support", the rest "default".
ROSTER = Roster(
    {
        **Roster.of(["a1", "b", "c"]).entries,
        **Roster.of(["a", "x", "y"], groups=["sales"]).entries,
        **Roster.of(["z"], groups=["support"]).entries,
    }
)


def synced(stale_after: float = 30.0, roster: Roster = ROSTER) -> AgentRegistry:
    reg = AgentRegistry(stale_after, roster=roster)
    reg.begin_resync()
    reg.resync_complete(0.0)
    return reg


def test_nothing_is_available_before_the_first_resync() -> None:
    reg = AgentRegistry(roster=ROSTER)
    reg.apply("a", st_("ready", 1), now=0.0)
    assert reg.available(0.0) == []
    changes = reg.resync_complete(0.0)
    assert changes == [AgentChange("a", "sales", "offline", "ready", "message")]
    assert reg.available(0.0) == ["a"]


def test_first_message_creates_agent_and_reports_change() -> None:
    reg = synced()
    ch = reg.apply("a", st_("ready", 0), now=1.0)
    assert ch == AgentChange("a", "sales", None, "ready", "message")
    assert isinstance(ch, AgentChange) and ch.pacer_event() == AgentChanged("a", "ready")
    assert reg.available(1.0) == ["a"]


def test_higher_seq_wins_lower_seq_is_rejected() -> None:
    reg = synced()
    reg.apply("a", st_("ready", 1), now=0.0)
    ch = reg.apply("a", st_("busy", 2), now=1.0)
    assert isinstance(ch, AgentChange) and ch.pacer_event() == AgentChanged("a", "busy")
    late = reg.apply("a", st_("ready", 1), now=2.0)
    assert isinstance(late, Rejected) and late.reason == "stale_seq"
    assert reg.effective_state("a") == "busy"
    assert reg.available(2.0) == []


def test_duplicate_is_idempotent_and_refreshes_last_seen() -> None:
    reg = synced(stale_after=10.0)
    reg.apply("a", st_("ready", 4), now=0.0)
    assert reg.apply("a", st_("ready", 4), now=8.0) is None  # heartbeat / QoS 1 duplicate
    assert reg.expire(15.0) == []  # would be stale at 10 without the heartbeat
    assert reg.available(15.0) == ["a"]
    assert reg.expire(18.0) == [AgentChange("a", "sales", "ready", "offline", "stale")]


def test_same_seq_different_state_is_a_conflict() -> None:
    reg = synced()
    reg.apply("a", st_("ready", 4), now=0.0)
    r = reg.apply("a", st_("busy", 4), now=1.0)
    assert isinstance(r, Rejected) and r.reason == "seq_conflict"
    assert reg.effective_state("a") == "ready"


def test_stale_agent_is_unavailable_and_comes_back_on_a_message() -> None:
    reg = synced(stale_after=5.0)
    reg.apply("a", st_("ready", 1), now=0.0)
    assert reg.available(4.9) == ["a"]
    assert reg.available(5.0) == []  # even before expire() runs: fail closed
    assert not reg.is_available("a", 5.0)
    assert [c.reason for c in reg.expire(5.0)] == ["stale"]
    assert reg.expire(6.0) == []  # reported once
    assert reg.is_stale("a")
    back = reg.apply("a", st_("ready", 2), now=7.0)
    assert back == AgentChange("a", "sales", "offline", "ready", "message")


def test_will_message_offline_wins_even_with_its_old_seq() -> None:
    # The desktop built its will at connect (seq 0) and has since published up to seq 5.
    reg = synced()
    reg.apply("a", st_("ready", 5), now=0.0)
    ch = reg.apply("a", st_("offline", 0), now=1.0)
    assert ch == AgentChange("a", "sales", "ready", "offline", "message")
    # A late QoS 1 duplicate of the earlier 'ready' must not revive the agent.
    late = reg.apply("a", st_("ready", 5), now=2.0)
    assert isinstance(late, Rejected)
    assert reg.available(2.0) == []


def test_desktop_restart_resets_seq_with_new_session() -> None:
    reg = synced()
    reg.apply("a", st_("busy", 40, ts=T0, session="old"), now=0.0)
    ch = reg.apply("a", st_("ready", 0, ts=T0 + 5, session="new"), now=5.0)
    assert isinstance(ch, AgentChange) and ch.new == "ready"
    # The old session's will, delivered late by the broker, is older: ignored.
    late_will = reg.apply("a", st_("offline", 0, ts=T0, session="old"), now=6.0)
    assert isinstance(late_will, Rejected) and late_will.reason == "old_session"
    assert reg.available(6.0) == ["a"]


def test_topic_agent_mismatch_is_refused() -> None:
    reg = synced()
    msg = AgentStateMessage(state="ready", seq=1, ts=T0, agent="b")
    with pytest.raises(ValueError, match="does not match topic agent"):
        reg.apply("a", msg, now=0.0)
    assert list(reg.agents()) == []


def test_retained_message_age_counts_against_staleness() -> None:
    reg = synced(stale_after=30.0)
    reg.apply("a", st_("ready", 1), now=100.0, age_s=45.0)  # retained, sent 45 s ago
    assert reg.available(100.0) == []
    reg.apply("b", st_("ready", 1), now=100.0, age_s=3.0)
    assert reg.available(100.0) == ["b"]


def test_link_down_makes_everyone_unavailable_until_resync() -> None:
    reg = synced()
    reg.apply("a", st_("ready", 1), now=0.0)
    reg.apply("b", st_("busy", 1), now=0.0)
    reg.apply("c", st_("ready", 1), now=0.0)
    down = reg.link_down()
    assert {(c.agent, c.old, c.new, c.reason) for c in down} == {
        ("a", "ready", "offline", "link_down"),
        ("b", "busy", "offline", "link_down"),
        ("c", "ready", "offline", "link_down"),
    }
    assert reg.available(1.0) == [] and not reg.synced
    assert reg.counts()["offline"] == 3

    reg.begin_resync()
    reg.apply("a", st_("ready", 1), now=2.0)  # retained replay of the same message
    reg.apply("b", st_("ready", 2), now=2.0)  # b became ready while we were away
    assert reg.available(2.0) == []  # still resyncing
    up = reg.resync_complete(2.0)
    assert {(c.agent, c.new) for c in up} == {("a", "ready"), ("b", "ready")}
    # c's retained state was not replayed (cleared, or the broker lost it): stale.
    assert reg.available(2.0) == ["a", "b"]
    assert reg.is_stale("c")


def test_removed_agent() -> None:
    reg = synced()
    reg.apply("a", st_("ready", 1), now=0.0)
    assert reg.remove("a") == AgentChange("a", "sales", "ready", "offline", "removed")
    assert reg.remove("a") is None  # already offline: nothing changes
    assert reg.remove("nobody") is None
    assert reg.available(0.0) == []
    assert reg.counts()["offline"] == 1
    # a new desktop session for the same agent brings it back
    back = reg.apply("a", st_("ready", 0, ts=T0 + 10, session="s2"), now=1.0)
    assert back == AgentChange("a", "sales", "offline", "ready", "message")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["msg", "expire", "down", "resync", "remove"]),
            st.sampled_from(["ready", "busy", "wrap", "paused", "offline"]),
            st.integers(0, 5),
            st.sampled_from(["s1", "s2"]),
        ),
        max_size=40,
    )
)
def test_change_events_add_up_to_counts(
    ops: list[tuple[str, str, AgentStateName, int, str]],
) -> None:
    """A gauge kept only from change events (inc new, dec old) always equals counts():
    the engine's agents-by-state metric cannot drift, whatever arrives in what order."""
    reg = AgentRegistry(stale_after_s=3.0, roster=ROSTER)
    gauge: dict[str, int] = {}

    def feed(changes: list[AgentChange]) -> None:
        for c in changes:
            gauge[c.new] = gauge.get(c.new, 0) + 1
            if c.old is not None:
                gauge[c.old] = gauge.get(c.old, 0) - 1

    now = 0.0
    for agent, op, state, seq, session in ops:
        now += 1.0
        if op == "msg":
            r = reg.apply(agent, st_(state, seq, ts=T0 + now, session=session), now=now)
            feed([r] if isinstance(r, AgentChange) else [])
        elif op == "expire":
            feed(reg.expire(now))
        elif op == "down":
            feed(reg.link_down())
        elif op == "resync":
            feed(reg.begin_resync())
            feed(reg.resync_complete(now))
        else:
            r2 = reg.remove(agent)
            feed([r2] if r2 else [])
        assert {k: v for k, v in gauge.items() if v} == {k: v for k, v in reg.counts().items() if v}


def test_available_by_group_oldest_ready_first() -> None:
    reg = synced()
    reg.apply("x", st_("ready", 1, ts=T0 + 3, group="sales"), now=0.0)
    reg.apply("y", st_("ready", 1, ts=T0 + 1, group="sales"), now=0.0)
    reg.apply("z", st_("ready", 1, ts=T0 + 2, group="support"), now=0.0)
    assert reg.available(0.0, group="sales") == ["y", "x"]
    assert reg.available(0.0) == ["y", "z", "x"]


def test_counts_and_expiry_at_stale_after() -> None:
    reg = synced(stale_after=10.0)
    reg.apply("a", st_("ready", 1), now=3.0)
    reg.apply("b", st_("wrap", 1), now=5.0)
    assert reg.counts() == {"ready": 1, "busy": 0, "wrap": 1, "paused": 0, "offline": 0}
    assert reg.expire(12.9) == []
    assert reg.expire(13.0) == [AgentChange("a", "sales", "ready", "offline", "stale")]
    assert reg.counts() == {"ready": 0, "busy": 0, "wrap": 1, "paused": 0, "offline": 1}


def test_bad_stale_after() -> None:
    with pytest.raises(ValueError, match="stale_after_s"):
        AgentRegistry(0, roster=ROSTER)


_STATES: list[AgentStateName] = ["ready", "busy", "wrap", "paused"]


@given(st.lists(st.tuples(st.integers(0, 20), st.sampled_from(_STATES)), min_size=1))
def test_any_delivery_order_ends_on_the_highest_seq(msgs: list[tuple[int, AgentStateName]]) -> None:
    """Whatever order and duplication the broker delivers one session's messages in,
    the registry ends on the state of the highest seq (first one seen for that seq)."""
    reg = synced(stale_after=1e9)
    first_for_seq: dict[int, AgentStateName] = {}
    for seq, state in msgs:
        first_for_seq.setdefault(seq, state)
    for seq, state in msgs:
        reg.apply("a", st_(state, seq), now=1.0)
    top = max(first_for_seq)
    # Among deliveries, the first one carrying the top seq is what sticks.
    assert reg.effective_state("a") == first_for_seq[top]


def test_changes_map_to_pacer_events_and_snapshot() -> None:
    from dialguard.pacing.events import AgentChanged

    reg = synced(stale_after=5.0)
    ch = reg.apply("a", st_("ready", 1, group="sales"), now=0.0)
    assert isinstance(ch, AgentChange) and ch.pacer_event() == AgentChanged("a", "ready")
    reg.apply("b", st_("busy", 1), now=0.0)
    expired = reg.expire(5.0)
    assert [c.pacer_event() for c in expired] == [
        AgentChanged("a", "offline"),
        AgentChanged("b", "offline"),
    ]
    snap = {s.agent: s for s in reg.snapshot()}
    assert snap["a"].state == "offline" and snap["a"].stale and snap["a"].group == "sales"
    assert snap["b"].state == "offline"  # stale too, by then


def test_desktop_without_session_id_restarting_is_recognised_by_ts() -> None:
    reg = synced()
    reg.apply("a", AgentStateMessage(state="busy", seq=9, ts=T0), now=0.0)
    dup = reg.apply("a", AgentStateMessage(state="ready", seq=8, ts=T0 - 1), now=1.0)
    assert isinstance(dup, Rejected) and dup.reason == "stale_seq"  # an old redelivery
    restarted = reg.apply("a", AgentStateMessage(state="ready", seq=0, ts=T0 + 60), now=60.0)
    assert isinstance(restarted, AgentChange) and restarted.new == "ready"
    # with a session id the rule is strict: same session, lower seq is stale
    reg.apply("b", st_("busy", 9, ts=T0), now=0.0)
    assert isinstance(reg.apply("b", st_("ready", 0, ts=T0 + 60), now=60.0), Rejected)


def test_wrap_up_cap_counts_the_agent_ready_unless_it_reported_since() -> None:
    reg = synced()
    reg.apply("a1", st_("wrap", 3), 1.0)
    change = reg.end_wrap("a1", "s1", 3)
    assert change is not None and (change.old, change.new, change.reason) == (
        "wrap",
        "ready",
        "wrap_cap",
    )
    assert reg.is_available("a1", 2.0)
    # a heartbeat sent before the desktop heard (same seq, still 'wrap') keeps it ready
    assert reg.apply("a1", st_("wrap", 3, ts=T0 + 5), 5.0) is None
    assert reg.effective_state("a1") == "ready"
    # the desktop's pause after the cap is taken as usual
    paused = reg.apply("a1", st_("paused", 4, ts=T0 + 6), 6.0)
    assert isinstance(paused, AgentChange) and paused.new == "paused"


def test_wrap_up_cap_does_nothing_once_the_agent_moved_on() -> None:
    reg = synced()
    reg.apply("a1", st_("wrap", 3), 1.0)
    reg.apply("a1", st_("paused", 4), 2.0)
    assert reg.end_wrap("a1", "s1", 3) is None
    reg.apply("a1", st_("wrap", 5), 3.0)
    assert reg.end_wrap("a1", "s1", 3) is None  # a timer of an earlier wrap-up
    assert reg.effective_state("a1") == "wrap"


# --- the roster and the clock (issue 11) ------------------------------------------------


def test_an_id_not_on_the_roster_is_never_available() -> None:
    """A broker login (the health check's, say) is not enough to become an agent."""
    reg = synced()
    result = reg.apply("healthcheck", st_("ready", 1), now=0.0)
    assert isinstance(result, Rejected) and result.reason == "unknown_agent"
    assert reg.available(0.0) == [] and not reg.is_available("healthcheck", 0.0)
    assert reg.counts()["ready"] == 0 and reg.snapshot() == []


def test_an_empty_roster_refuses_everyone() -> None:
    reg = synced(roster=Roster())
    assert isinstance(reg.apply("a", st_("ready", 1), now=0.0), Rejected)
    assert reg.available(0.0) == []


def test_the_group_comes_from_the_roster_not_the_message() -> None:
    reg = synced()
    ch = reg.apply("z", st_("ready", 1, group="sales"), now=0.0)
    assert isinstance(ch, AgentChange) and ch.group == "support"
    assert reg.available(0.0, group="sales") == [] and reg.available(0.0, "support") == ["z"]


def test_a_reloaded_roster_drops_agents_no_longer_on_it() -> None:
    reg = synced()
    reg.apply("a", st_("ready", 1), now=0.0)
    reg.apply("b", st_("ready", 1), now=0.0)
    changes = reg.set_roster(Roster.of(["b"]))
    assert [(c.agent, c.new, c.reason) for c in changes] == [("a", "offline", "removed")]
    assert reg.available(0.0) == ["b"]
    assert isinstance(reg.apply("a", st_("ready", 2), now=0.0), Rejected)


def test_a_timestamp_far_in_the_future_is_ignored_and_locks_nobody_out() -> None:
    """One message dated 10 days ahead must not make every later (truthful) one look
    older than it: it is refused, and the next desktop session is accepted."""
    reg = synced()
    ten_days = 10 * 86400.0
    bad = reg.apply("a", st_("paused", 1, ts=T0 + ten_days, session="s1"), 0.0, skew_s=ten_days)
    assert isinstance(bad, Rejected) and bad.reason == "clock_skew"
    ok = reg.apply("a", st_("ready", 1, ts=T0 + 1, session="s2"), now=1.0, skew_s=0.0)
    assert isinstance(ok, AgentChange) and reg.available(1.0) == ["a"]


def test_a_small_skew_is_accepted() -> None:
    reg = synced()
    assert isinstance(reg.apply("a", st_("ready", 1), now=0.0, skew_s=5.0), AgentChange)
