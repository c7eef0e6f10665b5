"""Pacing parameters re-check the legal floors whatever the caller did."""

from __future__ import annotations

import pytest

from dialguard.pacing import PacingParams, PacingParamsError


def test_defaults_are_valid_and_hold_time_is_deadline_minus_latency() -> None:
    p = PacingParams().checked()
    assert p.hold_s == pytest.approx(1.5)
    assert p.window_s == 86_400


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ring_timeout_s": 14.9}, "ring_timeout_s"),
        ({"abandon_cap": 0.031}, "abandon_cap"),
        ({"abandon_cap": 0.0}, "abandon_cap"),
        ({"abandon_window": "7d"}, "abandon_window"),
        ({"max_dial_ratio": 0.5}, "max_dial_ratio"),
        ({"connect_deadline_s": 2.5}, "connect_deadline_s"),
        ({"connect_latency_s": 2.0}, "connect_latency_s"),
        ({"warmup_answers": 0}, "warmup_answers"),
    ],
)
def test_each_bad_field_is_named(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(PacingParamsError) as e:
        PacingParams(**kwargs).checked()  # type: ignore[arg-type]
    assert len(e.value.problems) == 1 and e.value.problems[0].startswith(field)


def test_the_engine_can_map_the_campaign_config_field_for_field() -> None:
    # the pacer never imports dialguard.config; the field names are kept the same so the
    # engine's mapping is PacingParams(**campaign.pacing.model_dump())
    from dialguard.config.campaign import PacingConfig

    cfg = PacingConfig(mode="predictive", abandon_cap=0.02, abandon_window="30d")
    p = PacingParams(**cfg.model_dump()).checked()
    assert (p.mode, p.abandon_cap, p.window_s) == ("predictive", 0.02, 30 * 86_400)
    defaults = PacingParams(**PacingConfig().model_dump())
    assert defaults == PacingParams()
