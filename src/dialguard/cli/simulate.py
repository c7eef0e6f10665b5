"""`dialguard simulate` (placeholder until the pacing issue lands)."""

from dialguard.cli._common import not_yet


def simulate() -> int:
    """Not yet available."""
    return not_yet("dialguard simulate")
