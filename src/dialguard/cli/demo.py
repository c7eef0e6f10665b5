"""`dialguard demo` (placeholder until its issue lands)."""

from dialguard.cli._common import not_yet


def demo() -> int:
    """Not yet available."""
    return not_yet("dialguard demo")
