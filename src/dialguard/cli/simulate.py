"""`dialguard simulate`: compare pacing modes on a simulated contact-centre day.

Runs the same pacing code the daemon runs against the virtual-time simulator
(:mod:`dialguard.sim`), one seeded day per seed, and prints per-mode figures as a rich
table or, with ``--json``, one JSON object. Bad input (unknown scenario or mode, a
broken workload file, a plot path it cannot draw) exits 2 with a message saying what.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

from cyclopts import Parameter
from rich.console import Console
from rich.table import Table

from dialguard.cli._common import EXIT_BAD_INPUT, EXIT_OK, EXIT_PROBLEM, console, err_console
from dialguard.law import MAX_ABANDON_CAP, MIN_RING_TIMEOUT_S

if TYPE_CHECKING:
    from dialguard.propensity import Order
    from dialguard.sim import DayResult, ModeSummary

JSON_KEYS = (
    "ring_timeout_s",
    "talk_share",
    "occupancy",
    "contacts_per_agent_hour",
    "abandon_rate_mean",
    "abandon_rate_max",
    "days_over_cap",
    "idle_s_per_contact",
    "attempts_per_contact",
    "abandoned_calls",
)


def simulate(
    *,
    scenario: str = "S1",
    mode: str = "progressive",
    seeds: int = 20,
    hours: float | None = None,
    order: str = "list",
    days: int = 1,
    first_seed: int = 0,
    cap: float = MAX_ABANDON_CAP,
    ring_timeout: float = MIN_RING_TIMEOUT_S,
    json_out: Annotated[bool, Parameter(name="--json", negative="")] = False,
    plot: Path | None = None,
) -> int:
    """Simulate contact-centre days in virtual time and report per-mode figures.

    Parameters
    ----------
    scenario
        S1, S2, S3 (docs/design.md's standard workloads), S4 (a list of different
        people called in ``--order``; docs/contacts.md) or a workload TOML file.
    mode
        progressive, predictive or vicidial-adapt; several separated by commas.
    seeds
        How many seeded days to run (seeds first_seed … first_seed+seeds-1).
    hours
        Length of each simulated day (8 h; S4: 13 h, 08:00–21:00 in the callees' zone).
    order
        S4 only: list, priority or expected_value (the campaign's ``order``); several
        separated by commas.
    days
        S4 only: consecutive weekdays from Monday per seed (1–5), on one list with the
        answer model carried from day to day, as a daemon runs a campaign.
    first_seed
        The first seed (to replay one day, give its seed and --seeds 1).
    cap
        Abandoned-call cap for predictive mode and the days-over-cap count (≤ 0.03).
    ring_timeout
        Ring timeout of the simulated campaign, for every mode (≥ 15 s).
    json_out
        Print one JSON object instead of the table.
    plot
        Draw the first seed's day of the first mode to this .png or .svg file.
    """
    # imported here so `dialguard --help` does not pay for the simulator
    from dialguard.sim import MODES, STANDARD, WorkloadError, load_workload, summarise
    from dialguard.sim.centre import ContactCentre, SimulationError
    from dialguard.sim.modes import make_pacer
    from dialguard.sim.right_time import S4, S4_HOURS

    right_time = scenario.upper() == "S4"
    if hours is None:
        hours = S4_HOURS if right_time else 8.0
    orders = [cast("Order", o.strip()) for o in order.split(",") if o.strip()]
    modes = [m.strip() for m in mode.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    problems = []
    if not modes or bad:
        problems.append(f"--mode {mode!r}: choose from {', '.join(MODES)} (comma-separated)")
    if seeds < 1:
        problems.append(f"--seeds {seeds}: must be at least 1")
    if not 0 < hours <= 24:
        problems.append(f"--hours {hours}: must be in (0, 24]")
    if not 1 <= days <= 5:
        problems.append(f"--days {days}: must be 1–5 (Monday to Friday)")
    elif days > 1 and not right_time:
        problems.append(f"--days {days}: only S4 runs several days on one list")
    if not 0 < cap <= MAX_ABANDON_CAP:
        problems.append(f"--cap {cap}: must be in (0, {MAX_ABANDON_CAP}]")
    if not MIN_RING_TIMEOUT_S <= ring_timeout <= 120:
        problems.append(f"--ring-timeout {ring_timeout}: must be in [15, 120] s")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        problems.append(f"--plot {plot}: the file must end in .png or .svg")
    from dialguard.propensity import ORDERS

    if not orders or any(o not in ORDERS for o in orders):
        problems.append(f"--order {order!r}: choose from {', '.join(ORDERS)} (comma-separated)")
    workload = S4 if right_time else STANDARD.get(scenario.upper())
    if workload is None:
        path = Path(scenario)
        if path.suffix.lower() != ".toml" and not path.exists():
            problems.append(
                f"--scenario {scenario!r}: not S1, S2, S3, S4 or an existing workload .toml file"
            )
        else:
            try:
                workload = load_workload(path)
            except WorkloadError as e:
                problems.append(f"--scenario: {e}")
    if problems:
        for p in problems:
            err_console.print(f"[red]error:[/] {p}", highlight=False)
        return EXIT_BAD_INPUT
    assert workload is not None
    if right_time:
        return _right_time(
            modes, orders, seeds, first_seed, hours, days, cap, ring_timeout, json_out
        )

    summaries: list[ModeSummary] = []
    first_day: DayResult | None = None
    for i, m in enumerate(modes):
        results: list[DayResult] = []
        for seed in range(first_seed, first_seed + seeds):
            sample = 60.0 if (plot is not None and i == 0 and not results) else None
            centre = ContactCentre(
                workload, make_pacer(m, workload, cap, ring_timeout_s=ring_timeout),
                seed=seed, hours=hours,
                sample_every_s=sample,
            )  # fmt: skip
            try:
                day = centre.run()
            except SimulationError as e:
                err_console.print(f"[red]simulation failed[/] ({m}): {e}", highlight=False)
                return EXIT_PROBLEM
            if first_day is None:
                first_day = day
            results.append(day)
        summaries.append(summarise(workload, m, results, cap=cap, ring_timeout_s=ring_timeout))

    if plot is not None and first_day is not None:
        from dialguard.sim.plot import PlotUnavailable, plot_day

        try:
            plot_day(
                first_day, plot, cap=cap, title=f"{workload.name} {modes[0]} seed {first_seed}"
            )
        except PlotUnavailable as e:
            err_console.print(f"[red]error:[/] {e}", highlight=False)
            return EXIT_BAD_INPUT

    if json_out:
        objs = [s.as_json() for s in summaries]
        print(json.dumps(objs[0] if len(objs) == 1 else {s["mode"]: s for s in objs}))
    else:
        _table(summaries)
    for s in summaries:
        if s.mode == "progressive" and s.abandoned_calls:
            err_console.print(
                f"[red]guaranteed mode abandoned {s.abandoned_calls} call(s)[/] on seeds "
                f"{s.seeds_with_abandons}: replay one with --first-seed N --seeds 1",
                highlight=False,
            )
            return EXIT_PROBLEM
        if s.seeds_over_cap and not json_out:
            err_console.print(f"{s.mode}: seeds over the cap: {s.seeds_over_cap}", highlight=False)
    return EXIT_OK


def _table(summaries: list[ModeSummary]) -> None:
    t = Table(title="dialguard simulate", show_lines=False)
    for col in (
        "scenario", "mode", "seeds", "ring s", "talk share", "ceiling†", "occupancy",
        "contacts/agent-h",
        "abandon mean", "abandon max", "days over cap", "idle s/contact", "attempts/contact",
        "abandoned",
    ):  # fmt: skip
        t.add_column(col, justify="right")
    for s in summaries:
        t.add_row(
            s.scenario,
            s.mode,
            str(s.seeds),
            f"{s.ring_timeout_s:g}",
            f"{s.talk_share:.1%}",
            f"{s.progressive_ceiling:.1%}",
            f"{s.occupancy:.1%}",
            f"{s.contacts_per_agent_hour:.1f}",
            f"{s.abandon_rate_mean:.2%}",
            f"{s.abandon_rate_max:.2%}",
            f"{s.days_over_cap}/{s.seeds}",
            f"{s.idle_s_per_contact:.1f}",
            f"{s.attempts_per_contact:.2f}",
            str(s.abandoned_calls),
        )
    out = console if console.is_terminal else Console(width=200)
    out.print(t)
    out.print("† closed-form talk-share ceiling of plain progressive dialling (docs/design.md)")


def _right_time(
    modes: list[str],
    orders: list[Order],
    seeds: int,
    first_seed: int,
    hours: float,
    days: int,
    cap: float,
    ring_timeout: float,
    json_out: bool,
) -> int:
    """S4: every mode × order over the seeds; the pacing figures and issue 15's."""
    from dialguard.sim import SimulationError, summarise
    from dialguard.sim.modes import make_pacer
    from dialguard.sim.right_time import S4, run_s4_days, summarise_s4

    out: dict[str, dict[str, object]] = {}
    for m in modes:
        for o in orders:
            try:
                runs = [
                    day
                    for seed in range(first_seed, first_seed + seeds)
                    for day in run_s4_days(
                        seed,
                        o,
                        partial(make_pacer, m, S4, cap, ring_timeout_s=ring_timeout),
                        days=days,
                        hours=hours,
                    )
                ]
            except SimulationError as e:
                err_console.print(f"[red]simulation failed[/] ({m}, {o}): {e}", highlight=False)
                return EXIT_PROBLEM
            pacing = summarise(S4, m, [d for d, _ in runs], cap=cap, ring_timeout_s=ring_timeout)
            out[f"{m}/{o}"] = {**pacing.as_json(), **summarise_s4(o, runs).as_json()}
    if json_out:
        objs = list(out.values())
        print(json.dumps(objs[0] if len(objs) == 1 else out))
        return EXIT_OK
    t = Table(title="dialguard simulate S4 (right person, right time)")
    cols = ("mode/order", "live/agent-h", "attempts/live", "no consent", "outside hours",
            "other channel", "hand-offs", "talk share")  # fmt: skip
    for col in cols:
        t.add_column(col, justify="right")
    for key, v in out.items():
        t.add_row(
            key,
            f"{v['live_contacts_per_agent_hour']:.2f}",
            f"{v['attempts_per_live_contact']:.2f}",
            str(v["calls_without_consent"]),
            str(v["calls_outside_preferred_hours"]),
            str(v["calls_to_other_channel"]),
            str(v["handoffs"]),
            f"{v['talk_share']:.1%}",
        )
    (console if console.is_terminal else Console(width=200)).print(t)
    return EXIT_OK
