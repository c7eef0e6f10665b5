"""Where the callee probably is: candidate IANA time zones for a phone number.

Calling windows are the callee's local time (TCPA, Ofcom, French and Australian rules all
say so), but a number only tells us a region. phonenumbers maps a number to the zones its
prefix may be in — one for a London or New York landline, several for a mobile or a US
toll-free number — and the gate then allows only the overlap of all of them. A number
phonenumbers cannot place yields no zones, and the gate fails closed on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

_UNKNOWN = "Etc/Unknown"


def candidate_zones(number: str) -> tuple[str, ...]:
    """IANA zones the E.164 ``number`` may ring in; ``()`` if unknown or unparsable."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    zones: Sequence[str] = pn_timezone.time_zones_for_number(parsed)
    return tuple(sorted(z for z in zones if z != _UNKNOWN))


class UnknownZoneError(ValueError):
    """A zone list the gate cannot evaluate (empty, or a name tzdata does not know)."""


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def load_zones(names: Sequence[str]) -> tuple[ZoneInfo, ...]:
    """Resolve zone names, failing with the offending name if one is unknown."""
    if not names:
        raise UnknownZoneError("the callee's time zone is unknown (no candidate zones)")
    out: list[ZoneInfo] = []
    for name in names:
        if name == _UNKNOWN:
            raise UnknownZoneError("the callee's time zone is unknown (Etc/Unknown)")
        try:
            out.append(_zone(name))
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise UnknownZoneError(f"time zone {name!r} is not a known IANA zone ({e})") from None
    return tuple(out)
