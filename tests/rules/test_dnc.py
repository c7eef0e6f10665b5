"""DNC: internal always, national lists as configured, stale or missing lists block all."""

from __future__ import annotations

import pytest

from dialguard.rules.dnc import check_dnc, check_lists_fresh
from dialguard.rules.types import Suppression
from tests.rules.helpers import DAY, utc

NOW = utc(2026, 11, 23, 12)


def test_internal_list_always_applies() -> None:
    v = check_dnc([Suppression("internal")], [])
    assert (v.allowed, v.rule, v.retry_at) == (False, "dnc_internal", None)
    # Internal wins over a national entry in the reason.
    assert check_dnc([Suppression("tps"), Suppression("internal")], ["tps"]).rule == "dnc_internal"


def test_national_entry_refuses_only_when_the_campaign_uses_that_list() -> None:
    v = check_dnc([Suppression("tps", utc(2026, 11, 1))], ["tps"])
    assert (v.allowed, v.rule) == (False, "dnc_tps")
    assert "2026-11-01" in v.reason
    assert check_dnc([Suppression("usdnc")], ["usdnc"]).rule == "dnc_usdnc"
    assert check_dnc([Suppression("ctps")], ["tps", "ctps"]).rule == "dnc_ctps"
    assert check_dnc([Suppression("usdnc")], ["tps"]).allowed
    assert check_dnc([], ["tps", "usdnc"]).allowed


def test_tps_list_age_boundary_is_28_days_exclusive() -> None:
    """A TPS list dated 26 Oct (00:00 UTC) is usable until 00:00 UTC on 23 Nov, not on
    that day: the docs and the code say the same (issue 17 item 6)."""
    dated = utc(2026, 10, 26)
    assert check_lists_fresh(["tps"], {"tps": dated}, dated + 28 * DAY - 1).allowed
    v = check_lists_fresh(["tps"], {"tps": dated}, dated + 28 * DAY)
    assert (v.allowed, v.rule, v.retry_at) == (False, "dnc_list_stale", None)
    assert "TPS" in v.reason and "less than 28 days" in v.reason
    assert not check_lists_fresh(["ctps"], {"ctps": dated}, dated + 28 * DAY).allowed


def test_us_dnc_list_age_boundary_is_31_days_exclusive() -> None:
    dated = utc(2026, 10, 23)
    assert check_lists_fresh(["usdnc"], {"usdnc": dated}, dated + 31 * DAY - 1).allowed
    v = check_lists_fresh(["usdnc"], {"usdnc": dated}, dated + 31 * DAY)
    assert v.rule == "dnc_list_stale" and "31 days" in v.reason


@pytest.mark.parametrize(
    ("name", "label"), [("bloctel", "Bloctel"), ("dncr", "Australian Do Not Call Register")]
)
def test_bloctel_and_dncr_list_age_boundary_is_30_days_exclusive(name: str, label: str) -> None:
    """30 days: law.MAX_LIST_AGE_DAYS says why (a conservative reading for Bloctel)."""
    dated = utc(2026, 10, 24)
    assert check_lists_fresh([name], {name: dated}, dated + 30 * DAY - 1).allowed
    v = check_lists_fresh([name], {name: dated}, dated + 30 * DAY)
    assert (v.allowed, v.rule) == (False, "dnc_list_stale")
    assert label in v.reason and "less than 30 days" in v.reason
    assert check_dnc([Suppression(name)], [name]).rule == f"dnc_{name}"
    assert check_dnc([Suppression(name)], ["tps"]).allowed


def test_a_required_list_never_imported_blocks_and_unused_lists_do_not_matter() -> None:
    v = check_lists_fresh(["tps", "usdnc"], {"tps": NOW - DAY}, NOW)
    assert not v.allowed and "US National DNC Registry" in v.reason and "never" in v.reason
    assert check_lists_fresh([], {}, NOW).allowed
    assert check_lists_fresh(["tps"], {"tps": NOW, "usdnc": 0.0}, NOW).allowed


def test_a_list_dated_in_the_future_is_not_trusted() -> None:
    assert check_lists_fresh(["tps"], {"tps": NOW + 3600}, NOW).allowed  # clock skew
    v = check_lists_fresh(["tps"], {"tps": NOW + 3 * DAY}, NOW)
    assert not v.allowed and "future" in v.reason


def test_a_list_without_a_valid_date_is_stale() -> None:
    for bad in (float("nan"), float("inf"), "2026-11-01", None):
        v = check_lists_fresh(["tps"], {"tps": bad}, NOW)
        assert (v.allowed, v.rule) == (False, "dnc_list_stale"), bad
