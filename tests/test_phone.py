"""dialguard.phone: canonical numbers, their zones and types, and exact refusal reasons."""

from __future__ import annotations

import random
from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import timezone

from dialguard import phone
from dialguard.phone import (
    InvalidNumber,
    ParsedNumber,
    check_region,
    normalise_number,
    parse_number,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        (
            "020 7946 0000",
            "GB",
            ParsedNumber("+442079460000", "GB", ("Europe/London",), "fixed_line"),
        ),
        (
            "(020) 7946-0000",
            "GB",
            ParsedNumber("+442079460000", "GB", ("Europe/London",), "fixed_line"),
        ),
        (
            "011 44 20 7946 0000",  # the US international prefix
            "US",
            ParsedNumber("+442079460000", "GB", ("Europe/London",), "fixed_line"),
        ),
        (
            "+1 212 555 0134",
            "GB",
            ParsedNumber("+12125550134", "US", ("America/New_York",), "fixed_line_or_mobile"),
        ),
        (
            "(415) 555-2671",
            "US",
            ParsedNumber("+14155552671", "US", ("America/Los_Angeles",), "fixed_line_or_mobile"),
        ),
        (
            "01 23 45 67 89",
            "FR",
            ParsedNumber("+33123456789", "FR", ("Europe/Paris",), "fixed_line"),
        ),
    ],
)
def test_parses_to_e164_with_region_zones_and_type(
    raw: str, region: str, expected: ParsedNumber
) -> None:
    assert parse_number(raw, region) == expected


def test_region_argument_is_case_insensitive() -> None:
    assert parse_number("020 7946 0000", "gb").e164 == "+442079460000"


def test_international_prefix_is_the_default_regions() -> None:
    assert parse_number("0044 20 7946 0000", "GB").e164 == "+442079460000"
    # 00 is not the US international prefix, so from the US this is a too-long local number.
    with pytest.raises(InvalidNumber, match="too long"):
        parse_number("0044 20 7946 0000", "US")


def test_uk_mobile_is_typed_mobile_with_crown_dependency_zones() -> None:
    n = parse_number("07911 123456", "GB")
    assert n.e164 == "+447911123456"
    assert n.number_type == "mobile"
    # A UK mobile may be in Guernsey, Jersey or the Isle of Man: all zones are candidates.
    assert "Europe/London" in n.timezones
    assert len(n.timezones) > 1


def test_unknown_zone_placeholder_is_dropped() -> None:
    # International freephone numbers have no geography: libphonenumber says Etc/Unknown.
    n = parse_number("+800 1234 5678", "GB")
    assert n.timezones == ()
    assert n.number_type == "toll_free"


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "GB", "empty"),
        ("   ", "GB", "empty"),
        ("abc", "GB", "not a phone number"),
        ("12", "GB", "too short"),
        ("+44 20 7946 00000000", "GB", "too long"),
        ("9" * 80, "GB", "too long"),
        ("+999 1234567", "GB", "unknown country code"),
        ("020 7946 000", "GB", "not a valid number for GB"),
        ("07700 900123", "GB", "not a valid number for GB"),
        ("+1 212 055 0134", "GB", "not a valid number for US"),
        ("7946 0000", "GB", "local number without its area code"),
        ("09065 123456", "GB", "premium-rate number"),
        ("+1 900 555 0123", "GB", "premium-rate number"),
        ("020 7946 0000 ext 12", "GB", "has an extension (12); extensions cannot be dialled"),
    ],
)
def test_refusal_reasons_are_exact(raw: str, region: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number(raw, region)
    assert info.value.reason == reason
    assert str(info.value) == reason


def test_unknown_default_region_is_refused_with_the_value() -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number("020 7946 0000", "XX")
    assert info.value.reason == "unknown region 'XX' (expected an ISO country code like GB)"


def test_check_region_normalises_and_refuses() -> None:
    assert check_region(" us ") == "US"
    with pytest.raises(InvalidNumber, match="unknown region 'ZZ'"):
        check_region("ZZ")


def test_normalise_number_keeps_numbers_the_plan_does_not_know() -> None:
    # DNC entries must survive even when this metadata says the range is unallocated.
    assert normalise_number("07700 900123", "GB") == "+447700900123"
    assert normalise_number("09065 123456", "GB") == "+449065123456"
    assert normalise_number("+1 (212) 555-0134", "GB") == "+12125550134"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("abc", "not a phone number"),
        ("12", "too short"),
        ("+999 1234567", "unknown country code"),
        ("+44 20 7946 00000000", "too long"),
    ],
)
def test_normalise_number_refuses_what_cannot_be_a_number(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalise_number(raw, "GB")
    assert info.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-() .#*xeEabc", max_size=30))
def test_any_text_parses_or_raises_invalid_number(raw: str) -> None:
    try:
        n = parse_number(raw, "GB")
    except InvalidNumber as e:
        assert e.reason
        return
    # Whatever was accepted is canonical: parsing its E.164 form gives the same result.
    assert n.e164.startswith("+")
    assert parse_number(n.e164, "US") == n


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2_000_000_000, max_value=9_999_999_999))
def test_e164_round_trip_for_us_numbers(national: int) -> None:
    raw = f"+1{national}"
    try:
        n = parse_number(raw, "GB")
    except InvalidNumber:
        return
    assert n.e164 == raw
    assert len(n.region) == 2 and n.region.isupper()
    # The lenient form used for DNC lists agrees with the strict one on valid numbers.
    assert normalise_number(raw, "GB") == n.e164


@pytest.mark.parametrize(
    "raw",
    [
        "020 7946 0000",  # geographic fixed line
        "07911 123456",  # mobile: country-level zones
        "0800 123 4567",  # toll-free
        "+1 212 555 0134",
        "+1 800 555 0134",
        "+61 2 9374 4000",
        "+7 495 123 4567",
        "+800 1234 5678",
    ],
)
def test_zones_match_libphonenumbers_own_lookup(raw: str) -> None:
    # parse_number skips time_zones_for_number's second typing of the number; the zones
    # must still be exactly what that function gives, minus the Etc/Unknown placeholder.
    expected = tuple(
        z
        for z in timezone.time_zones_for_number(phonenumbers.parse(raw, "GB"))
        if z != "Etc/Unknown"
    )
    assert parse_number(raw, "GB").timezones == expected
    assert parse_number(raw, "GB").timezones == expected  # and again, from the cache


@pytest.mark.parametrize("raw", ["4.42079E+11", "4.4207946e11", "1E+10"])
def test_spreadsheet_scientific_notation_is_named(raw: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_number(raw, "GB")
    assert info.value.reason == (
        f"spreadsheet scientific notation ({raw}); format the column as text and export again"
    )


# --- normalise_number's fast path for bare digit strings (DNC lists) --------------------


def _both_paths(raw: str, region: str) -> tuple[object, object]:
    """What normalise_number gives (fast path or not) and what the parser alone gives:
    the E.164 text, or the refusal's reason."""

    def outcome(f: Callable[[str, str], str]) -> object:
        try:
            return f(raw, region)
        except InvalidNumber as e:
            return ("refused", e.reason)

    return outcome(normalise_number), outcome(phone._normalise_parsed)


def test_the_fast_paths_rest_on_the_installed_metadata() -> None:
    """If this fails, libphonenumber's metadata for the region moved: re-check the
    shape in dialguard.phone._FAST_PATHS (the tests below) and update its metadata."""
    for region, path in phone._FAST_PATHS.items():
        assert phone._metadata_of(region) == path.metadata, region
        assert phone._fast_path(region) is path
        assert phone._fast_path(region.lower()) is path


# Every three-digit start of each shape's national number, with tails from a fixed seed,
# in every written form the shape accepts, and the lengths either side of it.
_FORMS = {
    "US": ("{n}", "1{n}", "+1{n}", "0{n}", "+{n}", "11{n}", "011{n}"),
    "GB": ("0{n}", "+44{n}", "{n}", "00{n}", "44{n}", "+440{n}", "0044{n}"),
}
_LENGTHS = {"US": (9, 10, 11), "GB": (8, 9, 10, 11)}


@pytest.mark.parametrize("region", sorted(_FORMS))
def test_fast_path_equals_the_parser_on_every_prefix_of_its_shapes(region: str) -> None:
    rng = random.Random(16)
    checked = fast = 0
    for start in range(1000):
        for length in _LENGTHS[region]:
            tail = "".join(rng.choice("0123456789") for _ in range(length - 3))
            for form in _FORMS[region]:
                raw = form.format(n=f"{start:03d}{tail}")
                got, parsed = _both_paths(raw, region)
                assert got == parsed, (raw, region)
                checked += 1
                fast += phone._FAST_PATHS[region].shape.fullmatch(raw) is not None
    assert fast > checked // 20  # the shapes are really taken, not only fallen back from


@settings(max_examples=600, deadline=None)
@given(
    st.text(alphabet="0123456789+ -()", max_size=16)
    | st.from_regex(r"\A(\+?1|0|\+44|00|011)?[0-9]{8,11}\Z"),
    st.sampled_from(["US", "GB", "gb", " US ", "CA", "FR", "DE", "IN"]),
)
def test_normalise_number_equals_the_parser_on_any_text(raw: str, region: str) -> None:
    got, parsed = _both_paths(raw, region)
    assert got == parsed
