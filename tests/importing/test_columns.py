"""Finding the number column under its aliases, and refusing headers that have none."""

from __future__ import annotations

import pytest

from dialguard.importing.columns import (
    CONTACT_FIELDS,
    ColumnError,
    normalise_header,
    resolve_contact_columns,
    resolve_number_column,
)


@pytest.mark.parametrize(
    "name", ["number", "Phone", "PHONE_NUMBER", "Phone Number", " telephone ", "MSISDN", "mobile"]
)
def test_number_column_aliases_case_insensitive(name: str) -> None:
    cols = resolve_contact_columns(["Name", name, "Account"])
    assert cols.number == 1
    assert cols.known == {"name": 0}
    assert cols.custom == {"Account": 2}
    assert cols.width == 3


def test_normalise_header() -> None:
    assert normalise_header(" Preferred-Hours ") == "preferred_hours"
    assert normalise_header("phone.number") == "phone_number"


def test_number_wins_over_other_aliases_which_become_custom() -> None:
    cols = resolve_contact_columns(["mobile", "Number", "priority"])
    assert cols.number == 1
    assert cols.known == {"priority": 2}
    assert cols.custom == {"mobile": 0}


def test_two_aliases_without_number_is_ambiguous() -> None:
    with pytest.raises(ColumnError) as info:
        resolve_contact_columns(["phone", "mobile"])
    assert str(info.value) == (
        "several columns could be the number: 'phone', 'mobile'; rename the one to dial to 'number'"
    )


def test_missing_number_column_lists_found_and_accepted_names() -> None:
    with pytest.raises(ColumnError) as info:
        resolve_contact_columns(["name", "tel", "notes"])
    assert str(info.value) == (
        "no number column: found 'name', 'tel', 'notes'; the number column must be named "
        "one of 'number', 'phone', 'phone_number', 'telephone', 'msisdn', 'mobile' "
        "(case does not matter) and the first line must be the header"
    )


def test_duplicate_column_names_are_refused() -> None:
    with pytest.raises(ColumnError, match=r"column 'Name' appears twice \(columns 1 and 3\)"):
        resolve_contact_columns(["name", "number", "Name"])


def test_unnamed_columns_get_positional_custom_names() -> None:
    cols = resolve_contact_columns(["number", "", "x"])
    assert cols.custom == {"column_2": 1, "x": 2}


def test_dnc_number_column() -> None:
    assert resolve_number_column(["reason", "Telephone"]) == 1
    assert resolve_number_column(["reason", "tel"]) is None


def test_every_profile_column_is_a_known_contact_field() -> None:
    """A column added to the profile is recognised by the header resolver too, not kept
    as a custom field (the two lists were once written out separately)."""
    from dialguard.importing.profile import PROFILE_COLUMNS

    assert set(PROFILE_COLUMNS) <= set(CONTACT_FIELDS)
    cols = resolve_contact_columns(["number", *PROFILE_COLUMNS, "colour"])
    assert set(cols.known) == set(PROFILE_COLUMNS) and cols.custom == {"colour": 7}
