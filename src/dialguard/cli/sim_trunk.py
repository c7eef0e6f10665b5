"""`dialguard sim-trunk` (placeholder until the SIP issue lands)."""

from dialguard.cli._common import not_yet


def sim_trunk() -> int:
    """Not yet available."""
    return not_yet("dialguard sim-trunk")
