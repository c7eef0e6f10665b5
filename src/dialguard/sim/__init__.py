"""dialguard.sim — a virtual-time contact centre that drives the real pacing code.

Discrete events, a virtual clock and one seeded ``random.Random`` per day: a day replays
exactly from its seed. Workloads S1–S3 are docs/design.md's standard benchmark; others load
from TOML (:func:`load_workload`). ``vicidial-adapt`` is a VICIdial-style comparator run
on the same seeds.

    from dialguard.sim import STANDARD, run_days, summarise
    days = run_days(STANDARD["S1"], "progressive", range(20), hours=8)
    print(summarise(STANDARD["S1"], "progressive", days, cap=0.03))
"""

from dialguard.sim.ceiling import mean_attempt_s, progressive_ceiling
from dialguard.sim.centre import ContactCentre, DayResult, PacerLike, SimulationError, simulate_day
from dialguard.sim.modes import MODES, campaign_params, make_pacer
from dialguard.sim.results import ModeSummary, run_days, summarise
from dialguard.sim.vicidial import VicidialAdapt
from dialguard.sim.workload import S1, S2, S3, STANDARD, Workload, WorkloadError, load_workload

__all__ = [
    "MODES",
    "S1",
    "S2",
    "S3",
    "STANDARD",
    "ContactCentre",
    "DayResult",
    "ModeSummary",
    "PacerLike",
    "SimulationError",
    "VicidialAdapt",
    "Workload",
    "WorkloadError",
    "campaign_params",
    "load_workload",
    "make_pacer",
    "mean_attempt_s",
    "progressive_ceiling",
    "run_days",
    "simulate_day",
    "summarise",
]
