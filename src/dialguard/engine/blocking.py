"""Why a campaign dials nothing: its blocking reasons, in words a supervisor can act on.

A campaign can be ``running`` and still place no call: the national DNC list it must
screen against was never imported (the gate then refuses every contact, fail closed),
there is nobody left to call, every callee is outside their calling window, no agent of
its group is signed in, the trunk or the store is refusing, or the abandon cap is spent.
Before issue 12 only the daemon's log said so (``campaign_blocked``); now the same
reasons reach ``dialguard status`` (and ``--json``), the retained status topic, the
metrics, ``config check`` and the reply to ``campaign start``.

Two halves, so each caller asks only what it can know:

- :func:`store_reasons` reads the store (lists, contacts, the skip that parked the next
  contact): ``config check`` runs it with no daemon, the runner refreshes it every few
  seconds.
- :func:`live_reasons` is pure: what only the running engine knows (agents, broker,
  trunk, store writes, the abandon budget).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dialguard.config import CampaignConfig
from dialguard.law import BUILT_IN_LISTS, ListTerms
from dialguard.mqtt.contract import BlockCode, BlockReason
from dialguard.pacing.governor import GovernorState
from dialguard.rules.dnc import check_lists_fresh, list_label
from dialguard.store import DncListInfo, DueSummary, Store

WINDOW_RULES = frozenset({"calling_window", "holiday", "preferred_hours", "timezone_unknown"})
"""Skip rules that mean "not at this hour" for the callee, not "not this contact"."""


def _at(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _reason(code: BlockCode, message: str) -> BlockReason:
    return BlockReason(code=code, message=message[:500])


def list_reasons(
    campaign: CampaignConfig,
    lists: dict[str, DncListInfo],
    now: float,
    national: Mapping[str, ListTerms] = BUILT_IN_LISTS,
) -> list[BlockReason]:
    """A national list the campaign must screen against that is missing or too old
    (``national``: every list's terms, built in and declared)."""
    out = []
    for name in campaign.dnc.lists:
        label = list_label(name, national)
        fix = f"`dialguard import dnc FILE --source {name} --list-date YYYY-MM-DD`"
        info = lists.get(name)
        if info is None:
            out.append(
                _reason(
                    "dnc_list_missing",
                    f"the {label} list was never imported: every contact is refused until "
                    f"it is ({fix})",
                )
            )
            continue
        date = dt.datetime.fromisoformat(info.list_date).replace(tzinfo=dt.UTC).timestamp()
        verdict = check_lists_fresh([name], {name: date}, now, national)
        if not verdict.allowed:
            out.append(_reason("dnc_list_stale", f"{verdict.reason} ({fix})"))
    return out


def contact_reasons(campaign: CampaignConfig, summary: DueSummary, total: int) -> list[BlockReason]:
    """Nobody left to call, or nobody due now (and why the next one waits)."""
    if summary.pending == 0:
        if total == 0:
            return [
                _reason(
                    "no_contacts",
                    "no contacts imported: `dialguard import contacts FILE --campaign "
                    f"{campaign.id}`",
                )
            ]
        return [
            _reason(
                "no_contacts",
                f"no contacts left to call: all {total} are done, spent or on a do-not-call "
                "list (import more with `dialguard import contacts`)",
            )
        ]
    if summary.due_now > 0 or summary.next_due_at is None:
        return []
    when = _at(summary.next_due_at)
    if summary.next_rule in WINDOW_RULES:
        return [
            _reason(
                "outside_calling_window",
                f"outside every callee's calling window: the next of {summary.pending} "
                f"contacts may be called from {when}",
            )
        ]
    why = f" ({summary.next_rule})" if summary.next_rule else ""
    return [
        _reason(
            "nothing_due",
            f"no contact due now: the next of {summary.pending} is due at {when}{why}",
        )
    ]


@dataclass(frozen=True, slots=True)
class StoreView:
    """The store's half: its reasons, and how many contacts are left to call."""

    reasons: list[BlockReason]
    contacts_left: int


async def read_store_view(
    store: Store,
    campaign: CampaignConfig,
    now: float,
    national: Mapping[str, ListTerms] = BUILT_IN_LISTS,
) -> StoreView:
    """Everything the store can tell about why ``campaign`` would dial nothing at ``now``."""
    reasons = list_reasons(campaign, await store.dnc.list_dates(), now, national)
    summary = await store.contacts.due_summary(campaign.id, now)
    total = await store.contacts.count(campaign.id) if summary.pending == 0 else summary.pending
    return StoreView(reasons + contact_reasons(campaign, summary, total), summary.pending)


async def store_reasons(
    store: Store,
    campaign: CampaignConfig,
    now: float,
    national: Mapping[str, ListTerms] = BUILT_IN_LISTS,
) -> list[BlockReason]:
    """:func:`read_store_view`'s reasons alone (``config check``)."""
    return (await read_store_view(store, campaign, now, national)).reasons


def live_reasons(
    campaign: CampaignConfig,
    *,
    agents_in_group: int,
    agents_synced: bool,
    store_writes_ok: bool,
    trunk_paused: str | None,
    governor: GovernorState,
) -> list[BlockReason]:
    """What only the running engine knows. ``agents_in_group``: agents of the campaign's
    group assigned to it and not offline; ``trunk_paused``: the breaker's reason, or None."""
    out = []
    if not agents_synced:
        out.append(
            _reason(
                "agents_not_synced",
                "agent state not proven (broker lost or resynchronising): no dialling until "
                "it is (fail closed)",
            )
        )
    elif agents_in_group == 0:
        out.append(
            _reason(
                "no_agents",
                f"no agent of group {campaign.agent_group!r} is signed in to this campaign "
                "(an agent belongs to one running campaign of its group at a time)",
            )
        )
    if not store_writes_ok:
        out.append(
            _reason("store_not_writable", "the store refuses writes (disk full?): no new dials")
        )
    if trunk_paused is not None:
        out.append(
            _reason(
                "trunk_paused",
                f"the trunk refuses calls ({trunk_paused}): new dials paused, contacts not charged",
            )
        )
    if campaign.pacing.mode == "predictive" and governor == "spent":
        out.append(
            _reason(
                "abandon_cap_spent",
                f"abandon cap {campaign.pacing.abandon_cap:.1%} spent for this window: dialling "
                "only for free agents (no over-dial) until the rate falls",
            )
        )
    return out


def summary_line(reasons: Sequence[BlockReason]) -> str:
    """One line for a log or a table cell: the messages joined."""
    return "; ".join(r.message for r in reasons)
