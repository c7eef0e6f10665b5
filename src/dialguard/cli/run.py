"""`dialguard run` (placeholder until its issue lands)."""

from dialguard.cli._common import not_yet


def run() -> int:
    """Not yet available."""
    return not_yet("dialguard run")
