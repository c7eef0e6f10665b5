"""The compliance report's questions, answered by the database in aggregate.

A campaign of a million attempts a month cannot be loaded row by row into Python to be
counted (issue 16: 97 s and 1.4 GB), so the report asks three named queries here, each
reading only the window's attempts through ``attempts_campaign_time``:

- :func:`period_groups`: for one period, the attempts grouped by abandon reason, callee
  zone set and hour of the dial, with every figure of the period summed (live answers,
  connects, abandons, short rings we cut, DNC hits, …) and the first and last dial time
  of each group, so the report can re-check the calling window per group instead of per
  row (:mod:`dialguard.reports.compliance` says how it stays exact).
- :func:`live_answer_times`: the instant and abandoned flag of each live answer, for the
  rolling worst span (:func:`dialguard.rules.abandoned.worst_span`).
- :func:`dialled_times`: the dial instants of one group, for the rare group whose hour
  holds a calling-window boundary.

What "abandoned" and "live answer" mean is :mod:`dialguard.rules.abandoned`; the SQL
below is that definition written over columns (``_CLASSIFIED``), and
``tests/store/test_period_figures.py`` checks the two agree on generated histories.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from dialguard.law import CONNECT_DEADLINE_S, MIN_RING_TIMEOUT_S
from dialguard.store.database import Database
from dialguard.store.records import DNC_SOURCES

__all__ = [
    "BUCKET_S",
    "DialSpan",
    "PeriodGroup",
    "ZoneSlot",
    "dialled_times",
    "live_answer_times",
    "period_groups",
    "zone_sets",
    "zone_slots",
    "zones_of",
]

BUCKET_S = 3600.0
"""Dials are grouped by the hour they fall in: calling-window edges at whole local
hours in whole-hour zones are whole UTC hours, so a group almost never straddles one."""

# Each attempt of the window with what the report asks of it, computed once per row.
# ``ab``: abandoned as rules.abandoned.is_abandoned says (flagged, outcome abandoned, or
# connected more than the connect deadline after the answer); ``live``: a live answer
# as rules.abandoned.live_answer says (every abandoned call, and any answer that was not
# a machine's). A comparison with a NULL side is NULL, which CASE treats as false.
_CLASSIFIED = """
SELECT a.*,
       CASE WHEN ab = 1 OR (answered_at IS NOT NULL AND coalesce(outcome, '') <> 'voicemail')
            THEN 1 ELSE 0 END AS live
FROM (
    SELECT a.id, a.number, a.contact_id, a.created_at, a.answered_at, a.connected_at,
           a.outcome, a.abandoned, a.abandon_reason, a.message_played_at, a.opted_out,
           coalesce(a.invite_at, a.created_at) AS dialled,
           CASE WHEN a.abandoned = 1 OR a.outcome = 'abandoned'
                     OR a.connected_at - a.answered_at > ?
                THEN 1 ELSE 0 END AS ab,
           CASE WHEN a.answered_at IS NULL AND a.ended_by = 'local'
                     AND coalesce(a.outcome, '') <> 'interrupted'
                     AND a.ended_at - coalesce(a.ringing_at, a.invite_at) < ?
                THEN 1 ELSE 0 END AS cut_short
    FROM attempts a
    WHERE a.campaign_id = ? AND a.created_at >= ? AND a.created_at < ?
) a
"""

# One placeholder per DNC source the schema knows (``_sources`` fills them all), so a
# new source needs no edit here.
_SOURCE_SLOTS = ", ".join("?" * len(DNC_SOURCES))

# Per group of one period: the abandon reason (NULL for calls not abandoned; as the
# report has always named them: the row's reason, else late_connect for a call
# abandoned only by its late connect, else unknown) and the hour of the dial, with
# every figure summed. Two short keys: SQLite groups by sorting every row, so a wide
# key costs more than the sums. The contacts table is not joined: its zones are needed
# only where a calling-window edge falls (``_ZONE_SLOTS``), so the dial span of the
# group's attempts with a contact, and of those without, is kept apart.
_PERIOD_GROUPS = f"""
SELECT CASE WHEN c.ab = 1 THEN coalesce(c.abandon_reason,
            CASE WHEN c.abandoned = 0 AND coalesce(c.outcome, '') <> 'abandoned'
                 THEN 'late_connect' ELSE 'unknown' END) END AS reason,
       CAST(c.dialled / ? AS INTEGER) AS bucket,
       count(*),
       sum(c.live),
       sum(CASE WHEN c.live = 0 AND c.answered_at IS NOT NULL THEN 1 ELSE 0 END),
       sum(CASE WHEN c.live = 1 AND c.connected_at IS NOT NULL THEN 1 ELSE 0 END),
       sum(c.ab),
       max(CASE WHEN c.live = 1 THEN c.connected_at - c.answered_at END),
       sum(c.cut_short),
       sum(CASE WHEN EXISTS (
               SELECT 1 FROM suppressions s
               WHERE s.number = c.number AND s.source IN ({_SOURCE_SLOTS})
                 AND s.added_at <= c.dialled) THEN 1 ELSE 0 END),
       sum(c.opted_out),
       sum(CASE WHEN c.message_played_at IS NOT NULL THEN 1 ELSE 0 END),
       sum(CASE WHEN c.contact_id IS NULL THEN 1 ELSE 0 END),
       min(CASE WHEN c.contact_id IS NOT NULL THEN c.dialled END),
       max(CASE WHEN c.contact_id IS NOT NULL THEN c.dialled END),
       min(CASE WHEN c.contact_id IS NULL THEN c.dialled END),
       max(CASE WHEN c.contact_id IS NULL THEN c.dialled END)
FROM ({_CLASSIFIED}) c
GROUP BY 1, 2
"""

# The attempts with a contact dialled in ``[first, last]``, by the contact's zone set
# and the hour of the dial: the calling-window re-check where the zone sets disagree.
_ZONE_SLOTS = """
SELECT coalesce(k.timezones, '[]'), CAST(coalesce(a.invite_at, a.created_at) / ? AS INTEGER),
       count(*), min(coalesce(a.invite_at, a.created_at)), max(coalesce(a.invite_at, a.created_at))
FROM attempts a LEFT JOIN contacts k ON k.id = a.contact_id
WHERE a.campaign_id = ? AND a.created_at >= ? AND a.created_at < ? AND a.contact_id IS NOT NULL
  AND coalesce(a.invite_at, a.created_at) >= ? AND coalesce(a.invite_at, a.created_at) <= ?
GROUP BY 1, 2
"""

_ZONE_SETS = "SELECT DISTINCT timezones FROM contacts WHERE campaign_id = ?"

_LIVE_ANSWERS = f"""
SELECT coalesce(c.answered_at, c.created_at), c.ab FROM ({_CLASSIFIED}) c WHERE c.live = 1
"""

_DIALLED = """
SELECT coalesce(a.invite_at, a.created_at) AS dialled
FROM attempts a LEFT JOIN contacts k ON k.id = a.contact_id
WHERE a.campaign_id = ? AND a.created_at >= ? AND a.created_at < ?
  AND a.contact_id IS NOT NULL AND coalesce(k.timezones, '[]') = ?
  AND coalesce(a.invite_at, a.created_at) >= ? AND coalesce(a.invite_at, a.created_at) <= ?
"""


@dataclass(frozen=True, slots=True)
class DialSpan:
    """How many attempts were dialled, first and last dial instant (the INVITE, or the
    row's creation when no INVITE left)."""

    attempts: int
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class PeriodGroup:
    """The attempts of one period with one abandon reason (None: not abandoned) whose
    dial fell in one hour, every figure of the report summed over them.

    ``with_contact`` / ``without_contact`` are the dial spans of those attempts that
    have a contact (whose zones decide the calling window) and of those that have none
    (None when there are no such attempts)."""

    reason: str | None
    attempts: int
    live_answers: int
    machine_answers: int
    connects: int
    abandoned: int
    max_answer_to_agent_s: float | None
    cancelled_before_15s: int
    dnc_hits: int
    opt_outs: int
    messages_played: int
    with_contact: DialSpan | None
    without_contact: DialSpan | None


@dataclass(frozen=True, slots=True)
class ZoneSlot:
    """Attempts to callees of one zone set (as stored) dialled in one hour."""

    zones_key: str
    span: DialSpan


def zones_of(zones_key: str) -> tuple[str, ...]:
    """A zone set as stored (a JSON list) as names."""
    return tuple(json.loads(zones_key))


def _sources(honoured: Sequence[str]) -> tuple[str, ...]:
    """Exactly one parameter per DNC source the schema knows, so the statement is one
    constant: the honoured sources, padded by repeating the first."""
    chosen = tuple(dict.fromkeys(honoured))
    unknown = [s for s in chosen if s not in DNC_SOURCES]
    if unknown or not chosen:
        raise ValueError(f"DNC sources {list(honoured)!r}: need some of {', '.join(DNC_SOURCES)}")
    return chosen + (chosen[0],) * (len(DNC_SOURCES) - len(chosen))


def _window(campaign_id: str, since: float, until: float) -> tuple[object, ...]:
    return (CONNECT_DEADLINE_S, MIN_RING_TIMEOUT_S, campaign_id, since, until)


async def period_groups(
    db: Database, campaign_id: str, since: float, until: float, honoured: Sequence[str]
) -> list[PeriodGroup]:
    """The attempts created in ``[since, until)``, grouped (see the module docs); a DNC
    hit is a dial to a number already on one of the ``honoured`` lists at the dial."""
    rows = await db.fetchall(
        _PERIOD_GROUPS, (BUCKET_S, *_sources(honoured), *_window(campaign_id, since, until))
    )
    return [
        PeriodGroup(
            reason=r[0],
            attempts=int(r[2]),
            live_answers=int(r[3]),
            machine_answers=int(r[4]),
            connects=int(r[5]),
            abandoned=int(r[6]),
            max_answer_to_agent_s=None if r[7] is None else float(r[7]),
            cancelled_before_15s=int(r[8]),
            dnc_hits=int(r[9]),
            opt_outs=int(r[10]),
            messages_played=int(r[11]),
            with_contact=None
            if r[13] is None
            else DialSpan(int(r[2]) - int(r[12]), float(r[13]), float(r[14])),
            without_contact=None
            if r[15] is None
            else DialSpan(int(r[12]), float(r[15]), float(r[16])),
        )
        for r in rows
    ]


async def zone_slots(
    db: Database, campaign_id: str, since: float, until: float, first: float, last: float
) -> list[ZoneSlot]:
    """The attempts created in ``[since, until)`` that have a contact and were dialled
    in ``[first, last]``, by the contact's zone set and the hour of the dial."""
    rows = await db.fetchall(_ZONE_SLOTS, (BUCKET_S, campaign_id, since, until, first, last))
    return [ZoneSlot(str(r[0]), DialSpan(int(r[2]), float(r[3]), float(r[4]))) for r in rows]


async def zone_sets(db: Database, campaign_id: str) -> list[str]:
    """Every zone set among the campaign's contacts, as stored."""
    return [str(r[0]) for r in await db.fetchall(_ZONE_SETS, (campaign_id,))]


async def live_answer_times(
    db: Database, campaign_id: str, since: float, until: float
) -> list[tuple[float, bool]]:
    """(instant, abandoned?) of each live answer among the attempts created in
    ``[since, until)``: the answer's time, or the row's for an abandon never answered."""
    rows = await db.fetchall(_LIVE_ANSWERS, _window(campaign_id, since, until))
    return [(float(r[0]), bool(r[1])) for r in rows]


async def dialled_times(
    db: Database,
    campaign_id: str,
    since: float,
    until: float,
    zones_key: str,
    first: float,
    last: float,
) -> list[float]:
    """The dial instants in ``[first, last]`` of the attempts created in ``[since,
    until)`` to callees of the zone set ``zones_key`` (a :class:`PeriodGroup`'s)."""
    rows = await db.fetchall(_DIALLED, (campaign_id, since, until, zones_key, first, last))
    return [float(r[0]) for r in rows]
