"""Which campaigns a node takes or gives up: a fair share each, the rest left free for
the others, one hand-over per turn, nothing taken that another node holds live."""

from __future__ import annotations

from dialguard.engine.leasing import home_campaign, plan
from dialguard.store.leases import Lease

C3 = ["a", "b", "c"]


def lease(cid: str, owner: str, expires_at: float = 100.0) -> Lease:
    return Lease(cid, owner, 1, expires_at)


def test_a_lone_node_takes_every_free_campaign() -> None:
    p = plan(C3, set(), [], ["n1"], "n1", now=0)
    assert p.take == ("a", "b", "c") and p.give_up == ()


def test_a_second_node_takes_only_what_is_free_and_within_its_share() -> None:
    held = [lease("a", "n1"), lease("b", "n1")]
    p = plan(C3, set(), held, ["n1", "n2"], "n2", now=0)
    assert p.take == ("c",)


def test_a_node_over_its_share_gives_up_one_campaign_per_turn() -> None:
    held = [lease(c, "n1") for c in C3]
    p = plan(C3, {"a", "b", "c"}, held, ["n1", "n2", "n3"], "n1", now=0)
    assert p == plan(C3, {"a", "b", "c"}, held, ["n1", "n2", "n3"], "n1", now=0)
    assert p.give_up == ("c",) and p.take == ()


def test_a_live_lease_of_another_node_is_never_taken_an_expired_one_is() -> None:
    held = [lease("a", "n1", expires_at=10.0)]
    assert "a" not in plan(C3, set(), held, ["n2"], "n2", now=9.9).take
    assert plan(C3, set(), held, ["n2"], "n2", now=10.0).take == ("a", "b", "c")


def test_a_stopping_node_takes_nothing() -> None:
    assert plan(C3, set(), [], ["n1"], "n1", now=0, taking=False).take == ()


def test_an_agent_follows_its_lowest_live_campaign() -> None:
    leases = [lease("b", "n1"), lease("c", "n2"), lease("a", "n3", expires_at=1.0)]
    assert home_campaign(lambda c: c in {"a", "c"}, leases, now=5.0) == "c"
    assert home_campaign(lambda c: c in {"a", "b", "c"}, leases, now=0.0) == "a"
    assert home_campaign(lambda c: c == "d", leases, now=0.0) is None
