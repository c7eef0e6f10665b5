"""Candidate zones come from phonenumbers; unknown ones make the gate fail closed."""

from __future__ import annotations

import pytest

from dialguard.rules.zones import UnknownZoneError, candidate_zones, load_zones


def test_a_landline_has_one_zone_and_toll_free_has_many() -> None:
    assert candidate_zones("+12125550100") == ("America/New_York",)
    assert candidate_zones("+442079460000") == ("Europe/London",)
    toll_free = candidate_zones("+18005550100")
    assert len(toll_free) > 5
    assert "America/Los_Angeles" in toll_free and "America/New_York" in toll_free


def test_unparsable_or_unplaceable_numbers_have_no_zone() -> None:
    assert candidate_zones("not a number") == ()
    assert candidate_zones("+999123") == ()


def test_load_zones_names_the_bad_zone() -> None:
    assert [str(z) for z in load_zones(["Europe/Paris"])] == ["Europe/Paris"]
    with pytest.raises(UnknownZoneError, match="no candidate zones"):
        load_zones([])
    with pytest.raises(UnknownZoneError, match="Etc/Unknown"):
        load_zones(["Etc/Unknown"])
    with pytest.raises(UnknownZoneError, match="'Nowhere/Land'"):
        load_zones(["Europe/Paris", "Nowhere/Land"])
    with pytest.raises(UnknownZoneError, match=r"'\.\./etc/passwd'"):
        load_zones(["../etc/passwd"])
