"""dialguard: an outbound campaign engine whose default pacing never abandons a call.

A person who answers always reaches a person: the pacing core connects a call only
when an agent is guaranteed free, and every rule on abandoned calls, ring time,
calling hours, do-not-call lists and call frequency is enforced in code.
"""

__version__ = "0.1.0"
