"""`dialguard status` (placeholder until its issue lands)."""

from dialguard.cli._common import not_yet


def status() -> int:
    """Not yet available."""
    return not_yet("dialguard status")
