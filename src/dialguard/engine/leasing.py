"""Which campaigns this node should take or give up, on a shared (PostgreSQL) store.

Pure, like the pacer: the leases and live nodes it is shown and the time in, a plan
out; the engine carries it out (:meth:`dialguard.engine.engine.Engine` acquires, starts
a runner on a fenced store, or drains a runner and releases its lease).

The rule: each live node runs at most its fair share, ``ceil(campaigns / live nodes)``.
A node under its share takes campaigns whose lease is free or expired (lowest id
first); a node over it (the others started after it) gives up its highest ids, one per
turn, so a second node gets work without the first stopping everything. With shares
summing to at least the number of campaigns, a campaign given up always has a taker.

Agents follow their campaign (:func:`home_campaign`): an agent is served only by the
node holding the first leased campaign it may serve, so two nodes never reserve the
same person.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from dialguard.store.leases import Lease

__all__ = ["LeasePlan", "home_campaign", "plan"]


@dataclass(frozen=True, slots=True)
class LeasePlan:
    take: tuple[str, ...] = ()
    give_up: tuple[str, ...] = ()


def plan(
    campaigns: Sequence[str],
    mine: Collection[str],
    leases: Iterable[Lease],
    live_nodes: Collection[str],
    me: str,
    now: float,
    *,
    taking: bool = True,
) -> LeasePlan:
    """What to do this turn. ``mine``: the campaigns this node runs now; ``taking``:
    False while the node stops (it takes nothing new)."""
    by_campaign = {lease.campaign_id: lease for lease in leases}
    nodes = set(live_nodes) | {me}
    share = math.ceil(len(campaigns) / len(nodes)) if campaigns else 0
    held = sorted(c for c in campaigns if c in mine)
    if len(held) > share:
        # One per turn: the taker acquires it on its next turn, then we look again.
        return LeasePlan(give_up=(held[-1],))
    if not taking:
        return LeasePlan()
    free = [
        c
        for c in sorted(campaigns)
        if c not in mine
        and ((lease := by_campaign.get(c)) is None or lease.expires_at <= now or lease.owner == me)
    ]
    return LeasePlan(take=tuple(free[: max(0, share - len(held))]))


def home_campaign(
    may_serve: Callable[[str], bool], leases: Iterable[Lease], now: float
) -> str | None:
    """The campaign an agent works for across nodes: the lowest-id campaign it may
    serve whose lease is live; None if none is."""
    live = sorted(lease.campaign_id for lease in leases if lease.expires_at > now)
    return next((c for c in live if may_serve(c)), None)
