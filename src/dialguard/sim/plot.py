"""Draw one simulated day: agents occupied, dials in flight, abandon rate against the cap.

matplotlib is optional (``pip install dialguard[plot]``); it is imported only here, with
the Agg backend (no display needed), and its absence is a clear error, not a crash.
"""

from __future__ import annotations

from pathlib import Path

from dialguard.sim.centre import DayResult


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed, or the file type cannot be drawn."""


def plot_day(day: DayResult, path: Path, *, cap: float, title: str) -> None:
    """Write a PNG or SVG of ``day``'s time series (it must have been sampled)."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise PlotUnavailable(f"--plot {path}: the file must end in .png or .svg")
    if not day.series:
        raise PlotUnavailable("the day has no time series (run it with sample_every_s)")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'dialguard[plot]'") from None
    hours = [s.t / 3600 for s in day.series]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    ax1.plot(hours, [s.agents_occupied for s in day.series], label="agents occupied")
    ax1.plot(hours, [s.dials_in_flight for s in day.series], label="dials in flight")
    ax1.axhline(day.agents, color="grey", linestyle=":", label="agents logged in")
    ax1.set_ylabel("count")
    ax1.legend(loc="upper right")
    ax1.set_title(title)
    ax2.plot(hours, [100 * s.abandon_rate for s in day.series], label="abandon rate so far")
    ax2.axhline(100 * cap, color="red", linestyle="--", label="cap")
    ax2.set_ylabel("%")
    ax2.set_xlabel("hour of the day")
    ax2.legend(loc="upper right")
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as e:
        raise PlotUnavailable(f"--plot {path}: cannot write: {e}") from None
    finally:
        plt.close(fig)
