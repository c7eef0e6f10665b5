"""Callee population profiles: built-ins match docs/design.md, TOML loading, forced numbers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dialguard.sip.simulator.profile import (
    BUILTIN,
    Dist,
    Forced,
    Profile,
    ProfileError,
    Shares,
    forced_by_convention,
    load_profile,
)


def _hit_rate(profile: Profile, n: int = 40000, timeout: float = 20.0) -> float:
    rng = random.Random(1)
    hits = 0
    for _ in range(n):
        if (
            profile.sample_outcome(rng) == "live"
            and profile.ring_to_answer_s.sample(rng) <= timeout
        ):
            hits += 1
    return hits / n


@pytest.mark.parametrize(("name", "hit"), [("S1", 0.30), ("S2", 0.12), ("S3", 0.25)])
def test_builtin_hit_rates_match_design(name: str, hit: float) -> None:
    """docs/design.md: hit rate = share of attempts answered live within the 20 s timeout."""
    assert _hit_rate(BUILTIN[name]) == pytest.approx(hit, abs=0.01)


def test_builtin_shares_and_talk() -> None:
    s2 = BUILTIN["S2"]
    assert (s2.shares.busy, s2.shares.not_found, s2.shares.voicemail) == (0.08, 0.10, 0.15)
    assert s2.voicemail_answer_s.low == 18 and s2.voicemail_answer_s.high == 26
    rng = random.Random(2)
    talks = [BUILTIN["S1"].talk_s.sample(rng) for _ in range(40000)]
    mean = sum(talks) / len(talks)
    sd = (sum((t - mean) ** 2 for t in talks) / len(talks)) ** 0.5
    assert mean == pytest.approx(120, rel=0.05) and sd / mean == pytest.approx(0.95, rel=0.1)
    assert BUILTIN["S1"].shares.no_answer == pytest.approx(
        1 - 0.1 - 0.05 - BUILTIN["S1"].shares.live
    )


def test_lognormal_median_and_cdf() -> None:
    d = Dist(dist="lognormal", median=7, sigma=0.5)
    rng = random.Random(3)
    xs = sorted(d.sample(rng) for _ in range(20001))
    assert xs[10000] == pytest.approx(7, rel=0.03)
    assert d.cdf(7) == pytest.approx(0.5) and d.cdf(0) == 0
    assert Dist(dist="uniform", low=1, high=3).cdf(2.5) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dist": "uniform", "low": 3, "high": 1}, "low 3.0 > high 1.0"),
        ({"dist": "lognormal", "median": 7}, "either 'median' and 'sigma'"),
        ({"dist": "fixed"}, "needs 'value'"),
        ({"dist": "gamma"}, "dist"),
    ],
)
def test_bad_distributions(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Dist.model_validate(data)


def test_convention_numbers() -> None:
    f = forced_by_convention("+15550000020")
    assert f == Forced(outcome="live", ring_s=2.0)
    assert forced_by_convention("+15550006") == Forced(outcome="unavailable", code=503)
    assert forced_by_convention("+15550007005") == Forced(outcome="live", ring_s=0.5, opt_out=True)
    assert forced_by_convention("+15550009001") == Forced(
        outcome="live", ring_s=0.1, early_media=True
    )
    assert forced_by_convention("+15551234567") is None
    assert forced_by_convention("+1555000") is None


def test_number_table_beats_convention_and_longest_prefix_wins() -> None:
    p = Profile(
        numbers={
            "+1555*": Forced(outcome="busy"),
            "+155500*": Forced(outcome="decline"),
            "+15550000020": Forced(outcome="voicemail"),
        }
    )
    assert p.forced_for("+15550000020") == Forced(outcome="voicemail")
    assert p.forced_for("+15550004001") == Forced(outcome="decline")
    assert p.forced_for("+15559") == Forced(outcome="busy")
    assert p.forced_for("+441632960000") is None


def test_toml_profile_with_base_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "night.toml"
    path.write_text(
        'base = "S2"\n'
        "talk_s = 30\n"
        'agents = "available"\n'
        "opt_out_share = 0.2\n"
        "[shares]\nbusy = 0.2\n"
        '[ring_to_answer_s]\ndist = "uniform"\nlow = 2\nhigh = 4\n'
        '[numbers."+441632960001"]\noutcome = "busy"\n'
    )
    p = load_profile(path)
    assert p.name == "night" and p.talk_s == Dist(dist="fixed", value=30)
    assert p.shares.busy == 0.2 and p.shares.voicemail == 0.15  # the rest from S2
    assert p.ring_to_answer_s.high == 4 and p.agents == "available"
    assert p.forced_for("+441632960001") == Forced(outcome="busy")
    assert load_profile("s1") is BUILTIN["S1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[shares]\nlive = 0.7\nbusy = 0.6\n", "shares: .*more than 1"),
        ('agents = "sometimes"\n', "agents"),
        ('base = "S9"\n', "base 'S9'"),
        ("talk_s = = 3\n", "not valid TOML"),
        ("colour = 3\n", "colour: Extra inputs"),
        ('opt_out_digit = "x"\n', "opt_out_digit"),
    ],
)
def test_bad_toml_profiles_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(path)
    assert str(path) in str(info.value)


def test_shares_sample_in_proportion() -> None:
    p = Profile(shares=Shares(live=0.5, busy=0.25))
    rng = random.Random(5)
    draws = [p.sample_outcome(rng) for _ in range(20000)]
    assert draws.count("live") / 20000 == pytest.approx(0.5, abs=0.02)
    assert draws.count("busy") / 20000 == pytest.approx(0.25, abs=0.02)
    assert draws.count("no_answer") / 20000 == pytest.approx(0.25, abs=0.02)
