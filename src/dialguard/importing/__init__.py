"""Importing contact lists and do-not-call lists from CSV into the store.

Used by ``dialguard import contacts|dnc`` and by the demo and tests directly::

    report = await import_contacts(store, "leads.csv", "spring", "GB")
    report.imported, report.duplicates_in_store, report.rejects

Bad rows never stop an import; each is a :class:`Reject` with its line number and the
exact reason. An unusable header raises :class:`ColumnError` before anything is stored.
"""

from dialguard.importing.columns import (
    CONTACT_FIELDS,
    NUMBER_ALIASES,
    ColumnError,
    normalise_header,
)
from dialguard.importing.contacts import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    Progress,
    import_contacts,
    parse_preferred_hours,
)
from dialguard.importing.dnc import import_dnc
from dialguard.importing.records import LineSource
from dialguard.importing.report import ImportReport, Reject, write_rejects

__all__ = [
    "CONTACT_FIELDS",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "NUMBER_ALIASES",
    "ColumnError",
    "ImportReport",
    "LineSource",
    "Progress",
    "Reject",
    "import_contacts",
    "import_dnc",
    "normalise_header",
    "parse_preferred_hours",
    "write_rejects",
]
