"""Public-holiday calendars of the calling-window regimes, from the ``holidays`` package.

France and Australia forbid telemarketing calls on public holidays
(:data:`dialguard.law.REGIME_HOLIDAY_COUNTRY`), so a regime's window carries its
country's calendar: nobody has to remember to list 14 July in a campaign file, and a
campaign's own ``holidays`` dates are added to it, never put in its place.

A :class:`HolidayCalendar` answers one question, "is this local date a holiday for a
callee in this zone?". The country's national holidays always count; a subdivision's
count when the callee's zone names it (``Australia/Melbourne`` → VIC, so Melbourne Cup
day blocks Melbourne, not Sydney) or when the campaign lists it in
``calling_window.holiday_subdivisions`` (it then applies to every callee — tightening
only; e.g. ``"57"`` for Moselle's Good Friday and 26 December). Years are filled in on
demand by the package, so a window looking 400 days ahead finds next year's dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import holidays as holiday_data

__all__ = ["ZONE_SUBDIVISION", "HolidayCalendar"]

ZONE_SUBDIVISION: dict[str, dict[str, str]] = {
    "AU": {
        "Australia/Sydney": "NSW",
        "Australia/Broken_Hill": "NSW",
        "Australia/Lord_Howe": "NSW",
        "Australia/Melbourne": "VIC",
        "Australia/Brisbane": "QLD",
        "Australia/Lindeman": "QLD",
        "Australia/Adelaide": "SA",
        "Australia/Perth": "WA",
        "Australia/Eucla": "WA",
        "Australia/Hobart": "TAS",
        "Australia/Darwin": "NT",
    },
    # The overseas départements, where the Code de la consommation applies in full and
    # the abolition of slavery is a public holiday (art. L3422-2 Code du travail) on a
    # date of each one's own. Saint-Barthélemy and Saint-Martin numbers ring in
    # America/Guadeloupe too, and so keep Guadeloupe's days.
    "FR": {
        "America/Guadeloupe": "971",
        "America/Martinique": "972",
        "America/Cayenne": "973",
        "Indian/Reunion": "974",
        "Indian/Mayotte": "976",
    },
}
"""IANA zone → the state (Australia) or overseas département (France) whose holidays a
callee there keeps, besides the national ones. A zone not listed gets the national
calendar only: Europe/Paris covers every metropolitan département, so Alsace-Moselle's
days need ``holiday_subdivisions``."""


_LOCAL_UNIT = {"AU": "state", "FR": "overseas département"}
"""What a :data:`ZONE_SUBDIVISION` entry is called, for :meth:`HolidayCalendar.describe`."""

_MEMO_MAX = 100_000
"""Remembered (date, zone) answers before the memo starts again (a few MB at most)."""


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """One country's public holidays, plus subdivisions the campaign adds."""

    country: str
    subdivisions: tuple[str, ...] = ()
    _cache: dict[tuple[str | None], holiday_data.HolidayBase] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    # (date, zone) -> name: the package's lookup costs about as much as the rest of a
    # next-opening computation, and the gate asks about the same few days all day.
    _answers: dict[tuple[dt.date, str], str | None] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def __post_init__(self) -> None:
        known = holiday_data.list_supported_countries()
        if self.country not in known:
            raise ValueError(f"no public-holiday calendar for country {self.country!r}")
        object.__setattr__(self, "subdivisions", tuple(self.subdivisions))
        allowed = known[self.country]
        for sub in self.subdivisions:
            if sub not in allowed:
                raise ValueError(
                    f"{sub!r} is not a subdivision of {self.country} (known: {', '.join(allowed)})"
                )

    @classmethod
    def of(cls, country: str, subdivisions: Iterable[str] = ()) -> HolidayCalendar:
        return cls(country, tuple(subdivisions))

    def _table(self, subdivision: str | None) -> holiday_data.HolidayBase:
        key = (subdivision,)
        table = self._cache.get(key)
        if table is None:
            table = self._cache[key] = holiday_data.country_holidays(
                self.country, subdiv=subdivision
            )
        return table

    def _subdivisions_for(self, zone: str) -> tuple[str | None, ...]:
        mine = ZONE_SUBDIVISION.get(self.country, {}).get(zone)
        return (None, *self.subdivisions, *((mine,) if mine else ()))

    def name_of(self, date: dt.date, zone: str = "") -> str | None:
        """The holiday's name if ``date`` is one for a callee in ``zone``, else None."""
        key = (date, zone)
        if key in self._answers:
            return self._answers[key]
        found = None
        for sub in self._subdivisions_for(zone):
            name = self._table(sub).get(date)
            if name is not None:
                found = str(name)
                break
        if len(self._answers) > _MEMO_MAX:
            self._answers.clear()
        self._answers[key] = found
        return found

    def describe(self) -> str:
        subs = f" + {', '.join(self.subdivisions)}" if self.subdivisions else ""
        unit = _LOCAL_UNIT.get(self.country)
        local = f" and the callee's {unit}" if unit else ""
        return f"public holidays of {self.country}{subs}{local}"
