"""dialguard's SIP trunk simulator: a population of callees on a UDP port.

Tests and the demo point a dialler at it instead of a real trunk; it answers, refuses,
rings out, accepts transfers to agents, presses the opt-out key, and records per call
what a regulator would check. See docs/simulator.md.
"""

from dialguard.sip.simulator.profile import (
    BUILTIN,
    Dist,
    Forced,
    Profile,
    ProfileError,
    Shares,
    forced_by_convention,
    load_profile,
)
from dialguard.sip.simulator.records import CallRecord, Summary, summarise
from dialguard.sip.simulator.trunk import SimTrunk

__all__ = [
    "BUILTIN",
    "CallRecord",
    "Dist",
    "Forced",
    "Profile",
    "ProfileError",
    "Shares",
    "SimTrunk",
    "Summary",
    "forced_by_convention",
    "load_profile",
    "summarise",
]
