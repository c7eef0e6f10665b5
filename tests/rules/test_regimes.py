"""What a regime imposes besides its hours: public holidays and frequency caps (issue 17).

France (art. D223-9) and Australia (Industry Standard 2017) forbid calls on public
holidays; France allows 4 calls per 30 calendar days. A campaign's regime brings these
with it — no hand-listed date, no ``[caps]`` entry needed — and a campaign may tighten
them but never loosen them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from dialguard.rules import check_contact
from dialguard.rules.holidays import HolidayCalendar
from dialguard.rules.types import ContactFacts, PastAttempt
from dialguard.rules.window import CallingWindow
from dialguard.rules.zones import load_zones
from tests.rules.helpers import DAY, PARIS, SYDNEY, at, campaign

FR = ContactFacts("+33145678901", (PARIS,))
AU = ContactFacts("+61291234567", (SYDNEY,))


@pytest.mark.parametrize(
    ("facts", "regime", "local"),
    [
        (FR, "france", (2026, 5, 1, 11)),  # Fête du Travail, a Friday
        (FR, "france", (2026, 7, 14, 11)),  # Fête nationale, a Tuesday
        (FR, "france", (2026, 12, 25, 11)),  # Noël, a Friday
        (AU, "australia", (2025, 4, 25, 10)),  # Anzac Day, a Friday
        (AU, "australia", (2026, 1, 26, 10)),  # Australia Day, a Monday
    ],
)
def test_a_regime_refuses_its_public_holidays_with_no_date_listed(
    facts: ContactFacts, regime: str, local: tuple[int, int, int, int]
) -> None:
    zone = facts.timezones[0]
    c = campaign(calling_window={"regime": regime, "holidays": []})
    now = at(zone, *local)
    v = check_contact(facts, [], [], {}, c, "guaranteed", now)
    assert (v.allowed, v.rule) == (False, "holiday"), v.reason
    # the next opening is a later day, never the holiday itself
    assert v.retry_at is not None
    assert dt.datetime.fromtimestamp(v.retry_at, load_zones([zone])[0]).date() > dt.date(*local[:3])


def test_the_day_after_the_holiday_is_an_ordinary_day() -> None:
    c = campaign(calling_window={"regime": "france"})
    assert check_contact(FR, [], [], {}, c, "guaranteed", at(PARIS, 2026, 7, 15, 11)).allowed


def test_a_state_holiday_blocks_that_state_only() -> None:
    """Labour Day is the first Monday of October in NSW, the second Monday of March in
    Victoria: the callee's zone tells the state."""
    w = CallingWindow.preset("australia")
    [sydney], [melbourne] = load_zones([SYDNEY]), load_zones(["Australia/Melbourne"])
    nsw_labour_day = at(SYDNEY, 2026, 10, 5, 10)
    assert not w.is_open([sydney], nsw_labour_day)
    assert w.is_open([melbourne], nsw_labour_day)


@pytest.mark.parametrize(
    ("number", "zone", "day"),
    [
        ("+262262123456", "Indian/Reunion", dt.date(2027, 12, 20)),  # weekdays, all
        ("+590590123456", "America/Guadeloupe", dt.date(2026, 5, 27)),
        ("+596596123456", "America/Martinique", dt.date(2026, 5, 22)),
        ("+594594123456", "America/Cayenne", dt.date(2026, 6, 10)),
        ("+262269612345", "Indian/Mayotte", dt.date(2026, 4, 27)),
    ],
)
def test_an_overseas_departement_keeps_its_own_abolition_day(
    number: str, zone: str, day: dt.date
) -> None:
    """The Code de la consommation applies in the overseas départements, and each keeps
    the abolition of slavery as a public holiday on its own date: the callee's zone
    tells which. Paris works that day."""
    c = campaign(calling_window={"regime": "france"})
    w = CallingWindow.from_config(c.calling_window)
    [local], [paris] = load_zones([zone]), load_zones([PARIS])
    now = at(zone, day.year, day.month, day.day, 11)
    v = check_contact(ContactFacts(number, (zone,)), [], [], {}, c, "guaranteed", now)
    assert (v.allowed, v.rule) == (False, "holiday"), v.reason
    assert "Abolition" in v.reason
    assert w.is_open([local], now + 7 * DAY)  # a week later: an ordinary weekday
    assert w.is_open([paris], at(PARIS, day.year, day.month, day.day, 11))


def test_campaign_dates_and_subdivisions_are_added_never_in_place() -> None:
    w = CallingWindow.from_config(
        campaign(
            calling_window={
                "regime": "france",
                "holidays": [dt.date(2026, 11, 24)],
                "holiday_subdivisions": ["57"],  # Moselle: Good Friday and 26 December
            }
        ).calling_window
    )
    [paris] = load_zones([PARIS])
    assert not w.is_open([paris], at(PARIS, 2026, 11, 24, 11))  # the campaign's date
    assert not w.is_open([paris], at(PARIS, 2026, 7, 14, 11))  # still the national day
    assert not w.is_open([paris], at(PARIS, 2026, 4, 3, 11))  # Good Friday, Moselle
    assert CallingWindow.preset("france").is_open([paris], at(PARIS, 2026, 4, 3, 11))


def test_tcpa_has_no_holiday_calendar() -> None:
    c = campaign()
    ny = ContactFacts("+12125550100", ("America/New_York",))
    july4 = at("America/New_York", 2026, 7, 4, 12)
    assert check_contact(ny, [], [], {}, c, "guaranteed", july4).allowed


def test_subdivisions_must_exist_and_belong_to_a_regime_with_a_calendar() -> None:
    with pytest.raises(ValidationError, match="not subdivisions of FR"):
        campaign(calling_window={"regime": "france", "holiday_subdivisions": ["NSW"]})
    with pytest.raises(ValidationError, match="regime 'tcpa' has none"):
        campaign(calling_window={"regime": "tcpa", "holiday_subdivisions": ["57"]})
    with pytest.raises(ValueError, match="not a subdivision of AU"):
        HolidayCalendar.of("AU", ["57"])


# --- France: 4 calls per 30 calendar days -------------------------------------------------


def _six_calls_in_30_days(now: float) -> list[PastAttempt]:
    return [PastAttempt(now - k * 4 * DAY, "no_answer") for k in (1, 2, 3, 4, 5, 6)]


def test_france_caps_a_7th_call_with_the_default_caps() -> None:
    """Issue 17 item 3: with the default [caps] (per_30_days = 0) a 7th call after 6 in
    30 days was allowed under regime france."""
    fr = campaign(calling_window={"regime": "france"})
    assert fr.caps.per_30_days == 0 and fr.caps_in_force().per_30_days == 4
    now = at(PARIS, 2026, 11, 25, 11)  # a Wednesday, in hours
    v = check_contact(FR, _six_calls_in_30_days(now), [], {}, fr, "guaranteed", now)
    assert (v.allowed, v.rule) == (False, "cap_30d")
    assert "cap 4 per 30 days" in v.reason


def test_a_campaign_may_tighten_the_regime_but_never_loosen_it() -> None:
    tighter = campaign(calling_window={"regime": "france"}, caps={"per_30_days": 2})
    assert tighter.caps_in_force().per_30_days == 2
    with pytest.raises(ValidationError, match=r"caps.per_30_days = 10 is looser than regime"):
        campaign(calling_window={"regime": "france"}, caps={"per_30_days": 10})
    assert campaign(caps={"per_30_days": 10}).caps_in_force().per_30_days == 10  # tcpa


def test_thirty_calendar_days_across_the_dst_change_in_paris() -> None:
    """Issue 17 item 6: 30 × 86,400 s back from 11:00 on 20 Nov is 12:00 on 21 Oct in
    Paris (the clocks went back on 25 Oct): a call at 11:30 on 21 Oct, inside 30
    calendar days, was no longer counted."""
    fr = campaign(calling_window={"regime": "france"})
    now = at(PARIS, 2026, 11, 20, 11)  # a Friday
    h = [PastAttempt(at(PARIS, 2026, 10, 21, 11, 30), "no_answer")]
    h += [PastAttempt(now - k * DAY, "no_answer") for k in (2, 3, 4)]
    v = check_contact(FR, h, [], {}, fr, "guaranteed", now)
    assert v.rule == "cap_30d", v
    # ...and it ages out 30 calendar days after it, at 11:30 on 20 Nov, Paris time
    assert v.retry_at == at(PARIS, 2026, 11, 20, 11, 30)
