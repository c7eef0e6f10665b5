"""Shared builders for the rules tests: instants from local wall-clock times, campaigns."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

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
