"""Summaries over seeds, and the optional plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialguard.sim import S3, run_days, summarise
from dialguard.sim.centre import ContactCentre
from dialguard.sim.modes import make_pacer
from dialguard.sim.plot import PlotUnavailable, plot_day


def test_summary_aggregates_days_and_lists_seeds_over_cap() -> None:
    days = run_days(S3, "predictive", [1, 2], hours=1)
    s = summarise(S3, "predictive", days, cap=0.03)
    assert s.seeds == 2 and s.mode == "predictive" and s.scenario == "S3"
    assert s.abandon_rate_max == max(d.abandon_rate for d in days)
    assert s.abandoned_calls == sum(d.abandoned_live for d in days)
    strict = summarise(S3, "predictive", days, cap=0.0001)
    assert strict.seeds_over_cap == [d.seed for d in days if d.abandon_rate > 0.0001]


def test_plot_writes_png_and_refuses_other_suffixes(tmp_path: Path) -> None:
    day = ContactCentre(S3, make_pacer("predictive", S3), seed=1, hours=1, sample_every_s=60).run()
    out = tmp_path / "day.png"
    plot_day(day, out, cap=0.03, title="S3")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(PlotUnavailable, match=r"\.png or \.svg"):
        plot_day(day, tmp_path / "day.gif", cap=0.03, title="S3")


def test_summary_names_the_seeds_that_abandoned_calls() -> None:
    from dialguard.sim import DayResult

    clean = DayResult(seed=3, agents=6, hours=1, talk_s=100, contacts=5, attempts=20)
    bad = DayResult(
        seed=9, agents=6, hours=1, talk_s=100, contacts=5, attempts=20,
        answered_live=10, abandoned_live=1, abandoned_all=1,
    )  # fmt: skip
    s = summarise(S3, "progressive", [clean, bad], cap=0.03)
    assert s.seeds_with_abandons == [9] and s.abandoned_calls == 1
    assert s.seeds_over_cap == [9] and s.abandon_rate_max == 0.1
