"""The floor's rows from an engine snapshot: states and warnings in words, numbers with
their units, the reserved agent told apart from a ready one, stale told from live."""

from __future__ import annotations

from dialguard.console.floor import floor_view
from dialguard.mqtt.contract import AgentStatus, BlockReason, CampaignStatus, EngineStatus

NOW = 1_800_000_000.0


def _status(ts: float = NOW - 0.5, **campaign: object) -> EngineStatus:
    fields = {"id": "spring", "state": "running", "mode": "predictive", **campaign}
    return EngineStatus(
        engine_id="e1",
        ts=ts,
        broker_connected=True,
        agents_synced=True,
        campaigns=[
            CampaignStatus.model_validate(fields),
            CampaignStatus(id="autumn", state="paused", mode="progressive", dials=3),
        ],
        agents_by_state={"ready": 2, "busy": 1},
        agents=[
            AgentStatus(agent="a1", state="ready", group="g", stale=False, reserved=True,
                        since=NOW - 4, campaign="spring", call="+*********123"),
            AgentStatus(agent="a2", state="ready", group="g", stale=False, since=NOW - 70),
            AgentStatus(agent="a3", state="busy", group="g", stale=True),
        ],
    )  # fmt: skip


def test_live_snapshot_rows() -> None:
    floor = floor_view(_status(dials=9, in_flight=2, abandon_rate=0.012), NOW)
    assert floor.live and floor.as_of == "0 s ago"
    spring = floor.campaigns[0]
    assert (spring.state, spring.rate, spring.cap, spring.rate_level) == (
        "running", "1.20 %", "3.0 %", "ok",
    )  # fmt: skip
    assert spring.rate_share == 0.4
    assert floor.totals["dials"] == 12 and floor.totals["in_flight"] == 2
    assert floor.agent_counts["ready"] == 1 and floor.agent_counts["reserved"] == 1
    a1, a2, a3 = floor.agents
    assert (a1.state, a1.call, a1.note) == (
        "reserved",
        "+*********123",
        "held for a call that is ringing",
    )
    assert a2.since == "70 s"  # measured at the snapshot's time, as the engine saw it
    assert a3.note.startswith("stale")


def test_rate_near_and_over_the_cap_and_blocking_reasons() -> None:
    near = floor_view(_status(abandon_rate=0.025), NOW).campaigns[0]
    over = floor_view(_status(abandon_rate=0.04), NOW).campaigns[0]
    assert near.rate_level == "near" and over.rate_level == "over" and over.rate_share == 1.0
    blocked = floor_view(
        _status(blocked=[BlockReason(code="no_agents", message="no agent is logged in")]), NOW
    ).campaigns[0]
    assert blocked.state == "blocked" and blocked.blocked == ["no agent is logged in"]
    assert floor_view(_status(), NOW).campaigns[0].contacts_left == "not read yet"


def test_old_snapshot_is_stale_and_none_is_said() -> None:
    stale = floor_view(_status(ts=NOW - 4), NOW)
    assert stale.health == "stale" and not stale.live
    assert stale.campaigns  # the last known state is still there, to be shown as such
    assert floor_view(_status(ts=NOW - 4), NOW, stale_after_s=5).live
    nothing = floor_view(None, NOW)
    assert nothing.health == "none" and "daemon not running" in nothing.message
