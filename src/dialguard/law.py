"""The law's numbers, each defined once (a leaf module: it imports nothing of ours).

Every layer that enforces one of these (config validation, the pacer, the SIP adapter,
the compliance rules, the simulator) imports it from here, so a regulator's change is a
one-line change and a test can assert each layer uses the same figure.

Sources (see docs/compliance.md for the full table):

* Ofcom persistent-misuse policy (UK) and FCC 47 CFR 64.1200(a)(7) (US): at most 3 % of
  live answers abandoned, measured over 24 h (Ofcom) or a 30-day campaign period (FCC);
  an answered call must reach a live agent within 2 s of the callee's greeting, else an
  information message plays; no repeat call within 72 h after an abandoned call unless
  a live agent is guaranteed; unanswered calls ring at least 15 s.
* The dial-ratio ceiling of 3 lines per agent is dialguard's own safety bound.
"""

from __future__ import annotations

MIN_RING_TIMEOUT_S: float = 15.0
"""Unanswered calls ring at least this long before we give up (safeguard 4)."""

MAX_ABANDON_CAP: float = 0.03
"""Abandoned calls as a share of live answers, over the regime's window."""

CONNECT_DEADLINE_S: float = 2.0
"""From the callee's answer to a live agent (or, failing that, the information message)."""

ABANDON_LOCKOUT_S: float = 72 * 3600.0
"""After an abandoned call, no repeat call to the number unless an agent is guaranteed."""

MAX_DIAL_RATIO: float = 3.0
"""Lines dialled per active agent, at most (dialguard's bound, not a statute)."""
