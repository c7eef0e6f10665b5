"""dialguard's SIP layer: the trunk contract, the sippy-based trunk adapter, and media.

The engine imports from here and nothing deeper: :class:`Trunk` / :class:`TrunkCall` /
:class:`TrunkEvent` (the contract, :mod:`.api`) and :class:`SippyTrunk` (the adapter
that speaks SIP to a real trunk or to dialguard's simulator, :mod:`.adapter`).
"""

from dialguard.sip.adapter import SipCallState, SippyCall, SippyTrunk, TrunkError
from dialguard.sip.api import MIN_RING_S, Prompt, Trunk, TrunkCall, TrunkEvent, TrunkEventKind

__all__ = [
    "MIN_RING_S",
    "Prompt",
    "SipCallState",
    "SippyCall",
    "SippyTrunk",
    "Trunk",
    "TrunkCall",
    "TrunkError",
    "TrunkEvent",
    "TrunkEventKind",
]
