"""Sample contact lists that make sense at any hour of the day.

A demo started at 03:00 UTC must still have people it may legally call, so the list
spreads contacts over cities whose local time is inside the calling window *now*, and
adds a few outside it (and a few on the do-not-call list) so the demo also shows
contacts being held back.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# (E.164 prefix of a valid range, digits to add, zone phonenumbers gives that range)
CITIES: tuple[tuple[str, int, str], ...] = (
    ("+1212555", 4, "America/New_York"),
    ("+1310555", 4, "America/Los_Angeles"),
    ("+4420794", 5, "Europe/London"),
    ("+331426", 5, "Europe/Paris"),
    ("+813123", 5, "Asia/Tokyo"),
    ("+612912", 5, "Australia/Sydney"),
)
WINDOW = (dt.time(8, 0), dt.time(21, 0))  # TCPA hours, applied everywhere in the demo


@dataclass(frozen=True, slots=True)
class SampleContact:
    number: str
    name: str
    zone: str
    callable_now: bool


def open_now(zone: str, now: dt.datetime) -> bool:
    local = now.astimezone(ZoneInfo(zone)).time()
    return WINDOW[0] <= local < WINDOW[1]


def sample_contacts(
    n: int, now: dt.datetime, seed: int = 1, closed_share: float = 0.1
) -> list[SampleContact]:
    """``n`` distinct contacts; about ``closed_share`` of them in cities where it is
    outside calling hours at ``now`` (when there are such cities)."""
    rng = random.Random(seed)
    open_cities = [c for c in CITIES if open_now(c[2], now)]
    closed_cities = [c for c in CITIES if not open_now(c[2], now)]
    out: list[SampleContact] = []
    seen: set[str] = set()
    while len(out) < n:
        pick_closed = closed_cities and (not open_cities or rng.random() < closed_share)
        prefix, digits, zone = rng.choice(closed_cities if pick_closed else open_cities)
        number = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        if number in seen:
            continue
        seen.add(number)
        out.append(SampleContact(number, f"Customer {len(out) + 1}", zone, not pick_closed))
    return out
