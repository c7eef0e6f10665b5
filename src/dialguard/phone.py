"""Phone numbers as the dialler needs them: E.164, country, candidate time zones, type.

Every number enters dialguard through :func:`parse_number` (contacts) or
:func:`normalise_number` (do-not-call entries), so a number is stored in one canonical
form and the calling-window rules can look up the callee's zones without parsing again.
A number that cannot be dialled lawfully or at all is refused here with a reason a
person can act on ("not a valid number for GB", "premium-rate number"), because import
reports and audit rows show that reason verbatim.

Pure functions over Google's libphonenumber metadata (the ``phonenumbers`` package):
no I/O, no clock. Parsing costs about 60 µs a number, dominated by the metadata's
regular expressions; region checks and country-level zones are cached. A national DNC
list is millions of bare digit strings, so :func:`normalise_number` answers the few
shapes they come in (``2125550134``, ``12125550134``, ``+12125550134``; ``02079460000``,
``+442079460000``) with one regular expression, and everything else as before
(:data:`_FAST_PATHS` says why that gives the same answer).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult
from phonenumbers import timezone as pn_timezone

__all__ = [
    "InvalidNumber",
    "ParsedNumber",
    "check_region",
    "in_country",
    "normalise_number",
    "parse_number",
]

_UNKNOWN_ZONE = "Etc/Unknown"

# PhoneNumberType constants are plain ints; the names are what reports and the store show.
_TYPE_NAMES: dict[int, str] = {
    value: name.lower()
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}

_PARSE_REASONS: dict[int, str] = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}

# The longest a written number can sensibly be (E.164 is ≤ 15 digits; allow spacing and
# punctuation). Refusing longer strings early keeps a garbage cell from costing much.
_MAX_RAW_LENGTH = 64

_SCIENTIFIC = re.compile(r"^\+?\d(?:[.,]\d+)?[eE]\+?\d+$")


class InvalidNumber(ValueError):
    """A number that cannot be dialled; ``reason`` is short and human ("too short")."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    """A diallable number in canonical form.

    ``timezones`` are the IANA zones the number may be in, from the number's prefix
    (one for a London landline, several for a UK mobile or a US toll-free number);
    empty when libphonenumber cannot tell, and then the calling-window rules must fail
    closed.
    """

    e164: str
    region: str
    timezones: tuple[str, ...]
    number_type: str


def _zones(num: phonenumbers.PhoneNumber, kind: int) -> tuple[str, ...]:
    """Candidate zones, as ``time_zones_for_number`` gives them, without re-typing the number.

    ``time_zones_for_number`` would run number_type() again (a quarter of a parse's cost);
    we already know the type. Geographic numbers are looked up by prefix; the others
    (mobiles, toll-free…) get their country's zones, which depend on the country code only
    and are cached per code.
    """
    cc = num.country_code or 0
    if phonenumbers.is_number_type_geographical(kind, cc):
        zones = pn_timezone.time_zones_for_geographical_number(num)
        return tuple(z for z in zones if z != _UNKNOWN_ZONE)
    cached = _COUNTRY_ZONES.get(cc)
    if cached is None:
        zones = pn_timezone.time_zones_for_number(num)
        cached = _COUNTRY_ZONES[cc] = tuple(z for z in zones if z != _UNKNOWN_ZONE)
    return cached


_COUNTRY_ZONES: dict[int, tuple[str, ...]] = {}


@functools.lru_cache(maxsize=512)
def check_region(region: str) -> str:
    """Return ``region`` upper-cased if libphonenumber knows it, else raise InvalidNumber.

    Cached: an import asks this once per row with the same one or two regions.
    """
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidNumber(f"unknown region {region!r} (expected an ISO country code like GB)")
    return code


def in_country(e164: str, region: str) -> bool:
    """Whether an E.164 number has ``region``'s country calling code.

    By calling code, not by numbering-plan validity: a national DNC entry may be in a
    range this copy of libphonenumber does not know yet. Codes shared by several
    regions (+1: the US, Canada, the Caribbean) all pass, which only ever suppresses
    more.
    """
    prefix = _calling_prefix(check_region(region))
    return prefix is not None and e164.startswith(prefix)


@functools.lru_cache(maxsize=512)
def _calling_prefix(region: str) -> str | None:
    """``+`` and the region's country calling code (None if it has none); cached, as
    an import asks it once per row."""
    code = phonenumbers.country_code_for_region(region)
    return f"+{code}" if code else None


def _parse(raw: str, default_region: str) -> phonenumbers.PhoneNumber:
    text = raw.strip()
    if not text:
        raise InvalidNumber("empty")
    if len(text) > _MAX_RAW_LENGTH:
        raise InvalidNumber("too long")
    if _SCIENTIFIC.match(text):
        # A spreadsheet turned the number into a float and lost digits; say so plainly.
        raise InvalidNumber(
            f"spreadsheet scientific notation ({text}); format the column as text and export again"
        )
    region = check_region(default_region)
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as e:
        raise InvalidNumber(_PARSE_REASONS.get(e.error_type, "not a phone number")) from None


@dataclass(frozen=True, slots=True)
class _FastPath:
    """Bare digit strings of one region whose E.164 form is ``prefix`` + the shape's
    group 1, as libphonenumber itself would parse them.

    ``metadata`` is what that equality rests on: the region's calling code, its
    international and national prefixes (what :func:`phonenumbers.parse` strips),
    national number pattern and possible lengths (what decides a strip and
    :func:`phonenumbers.is_possible_number_with_reason`). The shapes keep clear of
    every prefix stripped (a leading ``011``/``00``; in the US a ``1`` only as the
    country code before an area code, which cannot start with 0 or 1). The path is
    taken only while the installed metadata is exactly this;
    ``tests/test_phone.py`` compares both paths on every three-digit prefix of each
    shape and on generated text, and fails when the metadata moves."""

    prefix: str
    shape: re.Pattern[str]
    metadata: tuple[object, ...]


_FAST_PATHS: dict[str, _FastPath] = {
    # NANP: a 10-digit number (area code [2-9]), bare, after the national prefix 1, or +1.
    "US": _FastPath(
        "+1",
        re.compile(r"(?:\+?1)?([2-9][0-9]{9})"),
        (1, "011", "1", "1", None, r"[2-9]\d{9}|3\d{6}", (10,), (7,)),
    ),
    # UK: a 9- or 10-digit national number (not starting 0) after the trunk 0, or +44.
    "GB": _FastPath(
        "+44",
        re.compile(r"(?:0|\+44)([1-9][0-9]{8,9})"),
        (
            44,
            "00",
            "0|180020",
            "0",
            None,
            r"[1-357-9]\d{9}|[18]\d{8}|8\d{6}",
            (7, 9, 10),
            (4, 5, 6, 8),
        ),
    ),
}


def _metadata_of(region: str) -> tuple[object, ...] | None:
    """What a :class:`_FastPath` rests on, as the installed libphonenumber has it."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return None
    return (
        meta.country_code,
        meta.international_prefix,
        meta.national_prefix_for_parsing,
        meta.national_prefix,
        meta.national_prefix_transform_rule,
        meta.general_desc.national_number_pattern,
        tuple(meta.general_desc.possible_length),
        tuple(meta.general_desc.possible_length_local_only),
    )


@functools.lru_cache(maxsize=64)
def _fast_path(region: str) -> _FastPath | None:
    """The region's fast path if it has one and the metadata is still what it rests on."""
    path = _FAST_PATHS.get(region.strip().upper())
    if path is None or _metadata_of(region.strip().upper()) != path.metadata:
        return None
    return path


def normalise_number(raw: str, default_region: str) -> str:
    """E.164 form of any number that could exist, whether or not today's metadata knows it.

    For do-not-call entries: a number on a national list must be suppressed even if this
    copy of libphonenumber thinks its range is unallocated (a later update may make it
    valid, and the contact import would then accept it). Refuses only what cannot be a
    number: "empty", "not a phone number", "too short", "too long",
    "unknown country code", "local number without its area code".
    """
    path = _fast_path(default_region)
    if path is not None:
        bare = path.shape.fullmatch(raw.strip())
        if bare is not None:
            return path.prefix + bare.group(1)
    return _normalise_parsed(raw, default_region)


def _normalise_parsed(raw: str, default_region: str) -> str:
    """:func:`normalise_number` through libphonenumber's parser, for any text."""
    num = _parse(raw, default_region)
    possible = phonenumbers.is_possible_number_with_reason(num)
    if possible == ValidationResult.TOO_SHORT:
        raise InvalidNumber("too short")
    if possible == ValidationResult.TOO_LONG:
        raise InvalidNumber("too long")
    if possible == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        raise InvalidNumber("local number without its area code")
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        raise InvalidNumber("unknown country code")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def parse_number(raw: str, default_region: str) -> ParsedNumber:
    """Parse ``raw`` as written by a person, in ``default_region`` unless it says +country.

    Raises :class:`InvalidNumber` with the reason: "empty", "not a phone number",
    "too short", "too long", "unknown country code", "invalid length for GB",
    "not a valid number for GB", "premium-rate number", "has an extension (…)".
    """
    num = _parse(raw, default_region)
    number_region = phonenumbers.region_code_for_country_code(num.country_code or 0)
    possible = phonenumbers.is_possible_number_with_reason(num)
    if possible == ValidationResult.TOO_SHORT:
        raise InvalidNumber("too short")
    if possible == ValidationResult.TOO_LONG:
        raise InvalidNumber("too long")
    if possible == ValidationResult.INVALID_LENGTH:
        raise InvalidNumber(f"invalid length for {number_region}")
    if possible == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        raise InvalidNumber("local number without its area code")
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        raise InvalidNumber("unknown country code")

    # number_type() runs the same pattern matching as is_valid_number(), so one call
    # answers both "is it valid?" (UNKNOWN means no) and "what is it?".
    kind = phonenumbers.number_type(num)
    if kind == PhoneNumberType.UNKNOWN:
        raise InvalidNumber(f"not a valid number for {number_region}")
    if kind == PhoneNumberType.PREMIUM_RATE:
        raise InvalidNumber("premium-rate number")
    if num.extension:
        raise InvalidNumber(f"has an extension ({num.extension}); extensions cannot be dialled")

    return ParsedNumber(
        e164=phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(num) or number_region,
        timezones=_zones(num, kind),
        number_type=_TYPE_NAMES.get(kind, "unknown"),
    )
