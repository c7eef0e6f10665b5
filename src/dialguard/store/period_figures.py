"""The compliance report's questions, answered by the database in aggregate.

A campaign of a million attempts a month cannot be loaded row by row into Python to be
counted (issue 16: 97 s and 1.4 GB), so the report asks named queries here, each
reading only the window's attempts through ``attempts_campaign_time``:

- :func:`hour_figures`: for each hour of a period (by the rows' creation), every figure
  of the report summed (live answers, connects, abandons, short rings we cut, DNC
  hits, …) and the span of dial instants of the hour's attempts, so the report can
  re-check the calling window per hour instead of per row
  (:mod:`dialguard.reports.compliance` says how it stays exact). The hours are asked
  :data:`HOURS_PER_STATEMENT` at a time, one ungrouped aggregate each: the rows come
  out of the index in creation order, so nothing is sorted (a ``GROUP BY`` on the
  hour made SQLite sort every row of the window, ~2/3 of the report's time).
- :func:`abandon_reasons`: a period's abandoned calls counted by reason.
- :func:`live_answer_times`: the instant and abandoned flag of each live answer, for the
  rolling worst span (:func:`dialguard.rules.abandoned.worst_span`).
- :func:`zone_slots` and :func:`dialled_times`: the contacts' zone sets, asked only for
  the hours whose dials the zone sets do not all answer alike.

What "abandoned" and "live answer" mean is :mod:`dialguard.rules.abandoned`; the SQL
below is that definition written over columns (``_ABANDONED``, ``_LIVE``), and
``tests/store/test_period_figures.py`` checks the two agree on generated histories.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dialguard.law import CONNECT_DEADLINE_S, MIN_RING_TIMEOUT_S
from dialguard.store.database import Database
from dialguard.store.dnc import check_source_name

__all__ = [
    "BUCKET_S",
    "HOURS_PER_STATEMENT",
    "DialSpan",
    "HourFigures",
    "ZoneSlot",
    "abandon_reasons",
    "dialled_times",
    "hour_figures",
    "live_answer_times",
    "zone_sets",
    "zone_slots",
    "zones_of",
]

BUCKET_S = 3600.0
"""Figures are summed per hour of the rows' creation, and zone slots per hour of the
dial: calling-window edges at whole local hours in whole-hour zones are whole UTC hours,
so an hour's dials almost never straddle one."""

HOURS_PER_STATEMENT = 24
"""Hours summed by one statement (a ``UNION ALL`` of one aggregate per hour): a day of
a 24 h report in one round trip, and a constant statement whatever the period."""

# A row's classification as rules.abandoned says, as conditions over the attempts row
# ``a`` (each takes the connect deadline as its one parameter). ``IS TRUE`` because a
# comparison with a NULL side is NULL, which is neither true nor, under NOT, false.
# Abandoned (rules.abandoned.is_abandoned): flagged, outcome abandoned, or connected
# more than the connect deadline after the answer.
_ABANDONED = """((a.abandoned = 1 OR a.outcome = 'abandoned'
    OR a.connected_at - a.answered_at > ?) IS TRUE)"""
# A live answer (rules.abandoned.live_answer): every abandoned call, and any answer
# that was not a machine's.
_LIVE = f"""({_ABANDONED}
    OR (a.answered_at IS NOT NULL AND coalesce(a.outcome, '') <> 'voicemail'))"""
_DIALLED = "coalesce(a.invite_at, a.created_at)"
# A ring we cut before the law's minimum (the parameter): no answer, ended by us.
_CUT_SHORT = """(a.answered_at IS NULL AND a.ended_by = 'local'
    AND coalesce(a.outcome, '') <> 'interrupted'
    AND a.ended_at - coalesce(a.ringing_at, a.invite_at) < ?)"""
_WINDOW = "a.campaign_id = ? AND a.created_at >= ? AND a.created_at < ?"
HONOURED_SLOTS = 16
"""Placeholders for the lists a campaign honours (``_sources`` fills them all, so the
statement is one constant): the internal list and up to 15 national ones, built in or
declared (``[[dnc_list]]``); ``CampaignConfig.dnc.lists`` takes no more."""
_SOURCE_SLOTS = ", ".join("?" * HONOURED_SLOTS)

# One hour's figures: ``{k}`` is the hour's place in the statement (rows of a UNION ALL
# come in no promised order). Every aggregate is evaluated for every row, so each is as
# plain as it can be (count(column) for "not NULL", a machine as answered, voicemail and
# not abandoned rather than "not live"). The dial spans are kept apart for the attempts
# with a contact (whose zones decide the calling window) and without.
_HOUR = f"""SELECT {{k}}, count(*),
       count(*) FILTER (WHERE {_LIVE}),
       count(*) FILTER (WHERE a.answered_at IS NOT NULL AND a.outcome = 'voicemail'
                              AND NOT {_ABANDONED}),
       count(a.connected_at) FILTER (WHERE {_LIVE}),
       count(*) FILTER (WHERE {_ABANDONED}),
       max(a.connected_at - a.answered_at) FILTER (WHERE {_LIVE}),
       count(*) FILTER (WHERE {_CUT_SHORT}),
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM suppressions s
           WHERE s.number = a.number AND s.source IN ({_SOURCE_SLOTS})
             AND s.added_at <= {_DIALLED})),
       sum(a.opted_out),
       count(a.message_played_at),
       count(a.contact_id),
       min({_DIALLED}) FILTER (WHERE a.contact_id IS NOT NULL),
       max({_DIALLED}) FILTER (WHERE a.contact_id IS NOT NULL),
       min({_DIALLED}) FILTER (WHERE a.contact_id IS NULL),
       max({_DIALLED}) FILTER (WHERE a.contact_id IS NULL)
FROM attempts a WHERE {_WINDOW}"""

_HOURS = "\nUNION ALL\n".join(_HOUR.format(k=k) for k in range(HOURS_PER_STATEMENT))

# A period's abandoned calls by reason, as the report has always named them: the row's
# reason, else late_connect for a call abandoned only by its late connect, else unknown.
_REASONS = f"""
SELECT coalesce(a.abandon_reason,
           CASE WHEN a.abandoned = 0 AND coalesce(a.outcome, '') <> 'abandoned'
                THEN 'late_connect' ELSE 'unknown' END),
       count(*)
FROM attempts a WHERE {_WINDOW} AND {_ABANDONED}
GROUP BY 1
"""

# The attempts with a contact created in ``[since, until)``, by the contact's zone set
# and the hour of the dial: the calling-window re-check where the zone sets disagree.
_ZONE_SLOTS = f"""
SELECT coalesce(k.timezones, '[]'), CAST({_DIALLED} / ? AS INTEGER),
       count(*), min({_DIALLED}), max({_DIALLED})
FROM attempts a LEFT JOIN contacts k ON k.id = a.contact_id
WHERE {_WINDOW} AND a.contact_id IS NOT NULL
GROUP BY 1, 2
"""

_ZONE_SETS = "SELECT DISTINCT timezones FROM contacts WHERE campaign_id = ?"

_LIVE_ANSWERS = f"""
SELECT coalesce(a.answered_at, a.created_at), CASE WHEN {_ABANDONED} THEN 1 ELSE 0 END
FROM attempts a WHERE {_WINDOW} AND {_LIVE}
"""

_DIALLED_TIMES = f"""
SELECT {_DIALLED}
FROM attempts a LEFT JOIN contacts k ON k.id = a.contact_id
WHERE {_WINDOW} AND a.contact_id IS NOT NULL AND coalesce(k.timezones, '[]') = ?
  AND {_DIALLED} >= ? AND {_DIALLED} <= ?
"""


@dataclass(frozen=True, slots=True)
class DialSpan:
    """How many attempts were dialled, first and last dial instant (the INVITE, or the
    row's creation when no INVITE left)."""

    attempts: int
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class HourFigures:
    """The attempts created in ``[since, until)`` (an hour of a period, or what is left
    of one at its end), every figure of the report summed over them.

    The dial spans say when they were dialled (mostly within the hour, but an INVITE
    may leave after it): ``with_contact`` those with a contact (whose zones decide the
    calling window), ``without_contact`` those without (None where there are none)."""

    since: float
    until: float
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
    """Exactly :data:`HONOURED_SLOTS` parameters, so the statement is one constant: the
    honoured sources (list names, built in or declared), padded by repeating the first."""
    chosen = tuple(dict.fromkeys(honoured))
    for name in chosen:
        check_source_name(name)
    if not chosen or len(chosen) > HONOURED_SLOTS:
        raise ValueError(
            f"DNC sources {list(honoured)!r}: need between 1 and {HONOURED_SLOTS} lists"
        )
    return chosen + (chosen[0],) * (HONOURED_SLOTS - len(chosen))


def _span(count: Any, first: Any, last: Any) -> DialSpan | None:
    """A span from a row's count, min and max (None where the min is NULL: no rows)."""
    return None if first is None else DialSpan(int(count), float(first), float(last))


def _hour_params(
    campaign_id: str, since: float, until: float, sources: tuple[str, ...]
) -> tuple[object, ...]:
    """The parameters of one ``_HOUR``, in the order its ``?`` appear."""
    return (
        *(CONNECT_DEADLINE_S,) * 5,  # live, machine, connects, abandoned, wait
        MIN_RING_TIMEOUT_S,
        *sources,
        campaign_id,
        since,
        until,
    )


async def hour_figures(
    db: Database,
    campaign_id: str,
    hours: Sequence[tuple[float, float]],
    honoured: Sequence[str],
) -> list[HourFigures]:
    """The figures of the attempts created in each ``[since, until)`` of ``hours``, in
    that order, leaving out the hours without attempts; a DNC hit is a dial to a number
    already on one of the ``honoured`` lists at the dial."""
    sources = _sources(honoured)
    out: list[HourFigures] = []
    for chunk in _chunks(hours):
        padded = [*chunk, *((0.0, 0.0),) * (HOURS_PER_STATEMENT - len(chunk))]
        params = [p for lo, hi in padded for p in _hour_params(campaign_id, lo, hi, sources)]
        for r in sorted(await db.fetchall(_HOURS, params), key=lambda r: int(r[0])):
            k, count = int(r[0]), int(r[1])
            if k >= len(chunk) or count == 0:
                continue
            lo, hi = chunk[k]
            out.append(
                HourFigures(
                    since=lo,
                    until=hi,
                    attempts=count,
                    live_answers=int(r[2]),
                    machine_answers=int(r[3]),
                    connects=int(r[4]),
                    abandoned=int(r[5]),
                    max_answer_to_agent_s=None if r[6] is None else float(r[6]),
                    cancelled_before_15s=int(r[7]),
                    dnc_hits=int(r[8]),
                    opt_outs=int(r[9]),
                    messages_played=int(r[10]),
                    with_contact=_span(r[11], r[12], r[13]),
                    without_contact=_span(count - int(r[11]), r[14], r[15]),
                )
            )
    return out


def _chunks(hours: Sequence[tuple[float, float]]) -> list[Sequence[tuple[float, float]]]:
    """``hours`` in runs of :data:`HOURS_PER_STATEMENT` (the last may be shorter)."""
    n = HOURS_PER_STATEMENT
    return [hours[i : i + n] for i in range(0, len(hours), n)]


async def abandon_reasons(
    db: Database, campaign_id: str, since: float, until: float
) -> dict[str, int]:
    """The abandoned calls among the attempts created in ``[since, until)``, by reason."""
    rows = await db.fetchall(_REASONS, (campaign_id, since, until, CONNECT_DEADLINE_S))
    return {str(r[0]): int(r[1]) for r in rows}


async def zone_slots(db: Database, campaign_id: str, since: float, until: float) -> list[ZoneSlot]:
    """The attempts created in ``[since, until)`` that have a contact, by the contact's
    zone set and the hour of the dial."""
    rows = await db.fetchall(_ZONE_SLOTS, (BUCKET_S, campaign_id, since, until))
    return [ZoneSlot(str(r[0]), DialSpan(int(r[2]), float(r[3]), float(r[4]))) for r in rows]


async def zone_sets(db: Database, campaign_id: str) -> list[str]:
    """Every zone set among the campaign's contacts, as stored."""
    return [str(r[0]) for r in await db.fetchall(_ZONE_SETS, (campaign_id,))]


async def live_answer_times(
    db: Database, campaign_id: str, since: float, until: float
) -> list[tuple[float, bool]]:
    """(instant, abandoned?) of each live answer among the attempts created in
    ``[since, until)``: the answer's time, or the row's for an abandon never answered."""
    rows = await db.fetchall(
        _LIVE_ANSWERS, (CONNECT_DEADLINE_S, campaign_id, since, until, CONNECT_DEADLINE_S)
    )
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
    until)`` to callees of the zone set ``zones_key`` (a :class:`ZoneSlot`'s)."""
    rows = await db.fetchall(_DIALLED_TIMES, (campaign_id, since, until, zones_key, first, last))
    return [float(r[0]) for r in rows]
