"""Which CSV column is which: the number column under its common names, the known fields.

Lists come from many systems and each names the phone column its own way, so the number
column is found under any of :data:`NUMBER_ALIASES`, case and spacing ignored
("Phone Number" is ``phone_number``). A header that has none of them is refused before
anything is stored, with the columns found and the names accepted, because importing a
list with the wrong column as "number" would be worse than importing nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from dialguard.importing.profile import PROFILE_COLUMNS

__all__ = [
    "CONTACT_FIELDS",
    "NUMBER_ALIASES",
    "ColumnError",
    "ContactColumns",
    "normalise_header",
    "resolve_contact_columns",
    "resolve_number_column",
]

NUMBER_ALIASES: tuple[str, ...] = (
    "number",
    "phone",
    "phone_number",
    "telephone",
    "msisdn",
    "mobile",
)
"""Accepted names for the number column; ``number`` wins if several are present."""

CONTACT_FIELDS: tuple[str, ...] = (
    "name",
    "priority",
    "consent",
    "preferred_channel",
    "preferred_hours",
    "region",
    *PROFILE_COLUMNS,
)
"""Optional contact columns with a meaning; any other column is kept as a custom field.
The profile's (consent, segment, propensity, offer) are named once, in :mod:`.profile`."""

_SEPARATORS = re.compile(r"[\s\-.]+")


class ColumnError(ValueError):
    """The header cannot be used; nothing was imported. The message says what to change."""


def normalise_header(name: str) -> str:
    """``" Phone-Number "`` → ``phone_number``: how header names are compared."""
    return _SEPARATORS.sub("_", name.strip().lower()).strip("_")


def _listed(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "(none)"


@dataclass(frozen=True, slots=True)
class ContactColumns:
    """Column positions of a contacts CSV, from its header."""

    width: int
    number: int
    known: dict[str, int]
    custom: dict[str, int] = field(default_factory=dict)


def _number_index(header: Sequence[str], normalised: list[str]) -> int | None:
    candidates = [i for i, n in enumerate(normalised) if n in NUMBER_ALIASES]
    if not candidates:
        return None
    exact = [i for i in candidates if normalised[i] == "number"]
    if exact:
        return exact[0]
    if len(candidates) > 1:
        names = [header[i].strip() for i in candidates]
        raise ColumnError(
            f"several columns could be the number: {_listed(names)}; "
            "rename the one to dial to 'number'"
        )
    return candidates[0]


def resolve_contact_columns(header: Sequence[str]) -> ContactColumns:
    """Map a contacts CSV header to columns, or raise ColumnError saying what is wrong."""
    normalised = [normalise_header(h) for h in header]
    seen: dict[str, int] = {}
    for i, n in enumerate(normalised):
        if not n:
            continue
        if n in seen:
            raise ColumnError(
                f"column {header[i].strip()!r} appears twice (columns {seen[n] + 1} and {i + 1})"
            )
        seen[n] = i
    number = _number_index(header, normalised)
    if number is None:
        raise ColumnError(
            f"no number column: found {_listed([h.strip() for h in header])}; "
            f"the number column must be named one of {_listed(NUMBER_ALIASES)} "
            "(case does not matter) and the first line must be the header"
        )
    known = {n: i for i, n in enumerate(normalised) if n in CONTACT_FIELDS}
    custom = {
        (header[i].strip() or f"column_{i + 1}"): i
        for i, n in enumerate(normalised)
        if i != number and n not in CONTACT_FIELDS
    }
    return ContactColumns(width=len(header), number=number, known=known, custom=custom)


def resolve_number_column(header: Sequence[str]) -> int | None:
    """Number column of a DNC header; None if no column has a number name."""
    return _number_index(header, [normalise_header(h) for h in header])
