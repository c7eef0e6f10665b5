"""The what-if panel: the pacing simulator on a chosen workload, the campaign's current
settings beside the ones the supervisor is considering.

It runs exactly what ``dialguard simulate`` runs — :class:`dialguard.sim.centre.
ContactCentre` driving the daemon's own pacer (:func:`dialguard.sim.modes.make_pacer`),
in virtual time, seeded — for two settings: the campaign's (mode, cap, ring time as the
engine runs them) and the form's. The plot (plotly, drawn in the browser from the
bundle the plotly package ships) shows each setting's abandon rate through the day
against the cap, and a bar pair of talk share and worst abandon rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from dialguard.console.reports import CampaignSettings
from dialguard.law import MAX_ABANDON_CAP, MIN_RING_TIMEOUT_S

SCENARIOS: Final = ("S1", "S2", "S3")
MAX_SEEDS: Final = 5
MAX_HOURS: Final = 8.0
"""Bounds that keep one run under a few seconds on a loaded machine."""
SIM_MODES: Final = ("progressive", "predictive")


class WhatIfError(ValueError):
    """A form value out of range, named."""


@dataclass(frozen=True, slots=True)
class Form:
    scenario: str
    mode: str
    cap_percent: float
    ring_timeout_s: float
    seeds: int
    hours: float

    @classmethod
    def from_query(cls, q: dict[str, str], campaign: CampaignSettings | None) -> Form:
        """The form's values: what the query says, else the campaign's own settings."""
        pacing = campaign.pacing if campaign is not None else None
        mode = pacing.mode if pacing is not None else "progressive"

        def num(key: str, default: float) -> float:
            try:
                return float(q.get(key, "") or default)
            except ValueError:
                return default

        return cls(
            scenario=q.get("scenario", "S1"),
            mode=q.get("mode", mode if mode in SIM_MODES else "progressive"),
            cap_percent=num("cap", 100 * (pacing.abandon_cap if pacing else MAX_ABANDON_CAP)),
            ring_timeout_s=num("ring", pacing.ring_timeout_s if pacing else 20.0),
            seeds=int(num("seeds", 2)),
            hours=num("hours", 4.0),
        )

    def problems(self) -> list[str]:
        out = []
        if self.scenario not in SCENARIOS:
            out.append(f"workload {self.scenario!r}: choose {', '.join(SCENARIOS)}")
        if self.mode not in SIM_MODES:
            out.append(f"mode {self.mode!r}: choose {', '.join(SIM_MODES)}")
        if not 0 < self.cap_percent <= 100 * MAX_ABANDON_CAP:
            out.append(f"cap {self.cap_percent:g} %: must be in (0, {100 * MAX_ABANDON_CAP:g}] %")
        if not MIN_RING_TIMEOUT_S <= self.ring_timeout_s <= 120:
            out.append(f"ring time {self.ring_timeout_s:g} s: must be in [15, 120] s")
        if not 1 <= self.seeds <= MAX_SEEDS:
            out.append(f"days {self.seeds}: must be 1 to {MAX_SEEDS}")
        if not 0 < self.hours <= MAX_HOURS:
            out.append(f"hours {self.hours:g}: must be in (0, {MAX_HOURS:g}]")
        return out


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    talk_share: str
    abandon_mean: str
    abandon_max: str
    days_over_cap: str
    contacts_per_agent_hour: str


@dataclass(frozen=True, slots=True)
class Result:
    outcomes: list[Outcome]
    plot_html: str


def run(form: Form, campaign: CampaignSettings) -> Result:
    """Simulate the campaign's settings and the form's; the table and the plot."""
    from dialguard.sim import STANDARD, summarise
    from dialguard.sim.centre import ContactCentre, SimulationError
    from dialguard.sim.modes import make_pacer

    problems = form.problems()
    if problems:
        raise WhatIfError("; ".join(problems))
    pacing = campaign.pacing
    if pacing is None:
        raise WhatIfError(f"campaign {campaign.id}: its stored config does not parse")
    workload = STANDARD[form.scenario]
    current_mode = pacing.mode if pacing.mode in SIM_MODES else "progressive"
    settings = [
        (f"now: {current_mode}, cap {pacing.abandon_cap:.1%}, ring {pacing.ring_timeout_s:g} s",
         current_mode, pacing.abandon_cap, pacing.ring_timeout_s),
        (f"what if: {form.mode}, cap {form.cap_percent:g}%, ring {form.ring_timeout_s:g} s",
         form.mode, form.cap_percent / 100, form.ring_timeout_s),
    ]  # fmt: skip
    outcomes, series = [], []
    for label, mode, cap, ring in settings:
        days = []
        for seed in range(form.seeds):
            centre = ContactCentre(
                workload, make_pacer(mode, workload, cap, ring_timeout_s=ring),
                seed=seed, hours=form.hours, sample_every_s=60.0 if seed == 0 else None,
            )  # fmt: skip
            try:
                days.append(centre.run())
            except SimulationError as e:
                raise WhatIfError(f"simulation failed ({label}): {e}") from None
        s = summarise(workload, mode, days, cap=cap, ring_timeout_s=ring)
        outcomes.append(
            Outcome(
                label,
                f"{s.talk_share:.1%}",
                f"{s.abandon_rate_mean:.2%}",
                f"{s.abandon_rate_max:.2%}",
                f"{s.days_over_cap}/{s.seeds}",
                f"{s.contacts_per_agent_hour:.1f}",
            )
        )
        series.append((label, cap, days[0], s.talk_share, s.abandon_rate_max))
    return Result(outcomes, _plot(series, f"{workload.name}, {form.hours:g} h"))


def _plot(series: list[tuple[str, float, Any, float, float]], title: str) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.65, 0.35],
        subplot_titles=("abandon rate through the first day (%)", "talk share and worst day (%)"),
    )
    dashes = ("solid", "dash")
    for (label, cap, day, _talk, _worst), dash in zip(series, dashes, strict=False):
        hours = [p.t / 3600 for p in day.series]
        rates = [100 * p.abandon_rate for p in day.series]
        fig.add_trace(go.Scatter(x=hours, y=rates, name=label, line={"dash": dash}), row=1, col=1)
        fig.add_hline(y=100 * cap, line_dash="dot", row=1, col=1)
    labels = [s[0].split(":")[0] for s in series]
    fig.add_trace(go.Bar(x=labels, y=[100 * s[3] for s in series], name="talk share"), row=1, col=2)
    fig.add_trace(
        go.Bar(x=labels, y=[100 * s[4] for s in series], name="worst abandon rate",
               marker_pattern_shape="/"),
        row=1, col=2,
    )  # fmt: skip
    fig.update_layout(title=title, height=420, legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(title_text="hour of the day", row=1, col=1)
    html: str = fig.to_html(include_plotlyjs=False, full_html=False, div_id="whatif-plot")
    return html
