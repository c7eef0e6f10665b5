"""The closed-form ceiling reproduces docs/design.md's figures for S1–S3."""

from __future__ import annotations

import pytest

from dialguard.sim import S1, S2, S3, mean_attempt_s, progressive_ceiling


def test_ceilings_match_design_within_a_fifth_of_a_point() -> None:
    # docs/design.md / issue 3: 63.8 / 50.2 / 44.0 % with the engine's ~0.3 s latency
    assert progressive_ceiling(S1, 0.3) == pytest.approx(0.638, abs=0.002)
    assert progressive_ceiling(S2, 0.3) == pytest.approx(0.502, abs=0.002)
    assert progressive_ceiling(S3, 0.3) == pytest.approx(0.440, abs=0.002)


def test_mean_attempt_grows_with_the_no_answer_share() -> None:
    # S1: 55 % ring the full 20 s, so E[D] is dominated by them (≈ 11 s of ~15.6 s)
    assert mean_attempt_s(S1) == pytest.approx(15.64, abs=0.05)
    assert mean_attempt_s(S2) > mean_attempt_s(S1)


def test_ceilings_at_the_15_s_ring_timeout_match_issue_9() -> None:
    # issue 9: 66.3 / 53.8 / 47.3 % at a 15 s ring timeout (p = live answers within 15 s)
    assert progressive_ceiling(S1, 0.3, 15.0) == pytest.approx(0.663, abs=0.001)
    assert progressive_ceiling(S2, 0.3, 15.0) == pytest.approx(0.538, abs=0.001)
    assert progressive_ceiling(S3, 0.3, 15.0) == pytest.approx(0.473, abs=0.001)
