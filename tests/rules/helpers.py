"""Shared builders for the rules tests: instants from local wall-clock times, campaigns."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holiday_data

from dialguard.config.campaign import CampaignConfig

NY = "America/New_York"
LA = "America/Los_Angeles"
PARIS = "Europe/Paris"
SYDNEY = "Australia/Sydney"
LONDON = "Europe/London"
DAY = 86400


def at(zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    """Epoch seconds of a local wall-clock time (fold=0) in ``zone``."""
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(zone)).timestamp()


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return at("UTC", y, mo, d, h, mi, s)


def show(t: float | None, zone: str = "UTC") -> str:
    if t is None:
        return "None"
    return dt.datetime.fromtimestamp(t, ZoneInfo(zone)).isoformat()


def campaign(**over: Any) -> CampaignConfig:
    data: dict[str, Any] = {"id": "spring", "name": "Spring", "caller_id": "+442079460000"}
    data.update(over)
    return CampaignConfig.model_validate(data)


# The law written out again, independently of the code under test, evaluated with datetime.

_H = 3600
_LAW: dict[str, dict[int, list[tuple[int, int]]]] = {
    "tcpa": {d: [(8 * _H, 21 * _H)] for d in range(7)},
    "france": {d: [(10 * _H, 13 * _H), (14 * _H, 20 * _H)] for d in range(5)},
    "australia": {**{d: [(9 * _H, 20 * _H)] for d in range(5)}, 5: [(9 * _H, 17 * _H)]},
}
# Public holidays forbid calls in France and Australia; in Australia the callee's state's
# holidays too (the states of the zones these tests use).
_HOLIDAY_COUNTRY = {"france": "FR", "australia": "AU"}
_STATE = {"Australia/Sydney": "NSW", "Australia/Adelaide": "SA", "Australia/Perth": "WA"}


def public_holiday(regime: str, zone: str, day: dt.date) -> bool:
    country = _HOLIDAY_COUNTRY.get(regime)
    if country is None:
        return False
    if day in holiday_data.country_holidays(country):  # the national day itself
        return True
    state = _STATE.get(zone) if country == "AU" else None  # and the state's (observed) days
    return state is not None and day in holiday_data.country_holidays(country, subdiv=state)


def oracle_open(
    regime: str, zones: tuple[str, ...], t: float, holidays: frozenset[dt.date]
) -> bool:
    """Is ``regime``'s window open at ``t`` in every zone (holidays closed)?"""
    for name in zones:
        local = dt.datetime.fromtimestamp(t, ZoneInfo(name))
        if local.date() in holidays or public_holiday(regime, name, local.date()):
            return False
        sod = local.hour * 3600 + local.minute * 60 + local.second
        if not any(s <= sod < e for s, e in _LAW[regime].get(local.weekday(), [])):
            return False
    return True
