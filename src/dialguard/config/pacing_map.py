"""One mapping from a campaign's ``[pacing]`` section to the pacer's parameters.

The daemon's runner and the simulator both build their pacer through
:func:`pacing_params`, so a simulated figure is the figure of the parameters a real
campaign would run with (same field names, same engine latency), not of a hand-made
``PacingParams``.
"""

from __future__ import annotations

from dialguard.config.campaign import PacingConfig
from dialguard.pacing.params import PacingParams

ENGINE_TRANSFER_TIMEOUT_S = 1.0
"""How long the engine gives a transfer (REFER sent → agent's leg confirmed) before the
call hears the message instead. The pacer holds an answered call for an agent at most
(connect deadline − this), so the message always starts inside the 2-second promise."""


def pacing_params(
    cfg: PacingConfig, *, transfer_timeout_s: float = ENGINE_TRANSFER_TIMEOUT_S
) -> PacingParams:
    """The pacer's parameters for ``cfg``, plus how long this engine gives a transfer."""
    return PacingParams(
        **cfg.model_dump(),
        connect_latency_s=min(transfer_timeout_s, cfg.connect_deadline_s / 2),
    )
