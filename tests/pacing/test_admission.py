"""Admission control: the window of launches under way shrinks when headroom does, and
stops launches outright past a stop threshold (sans-I/O, time passed in; the engine
end to end is tests/engine/test_admission.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialguard.pacing.admission import SIGNALS, Admission, AdmissionParams, Limits


def test_launches_fill_the_window_and_no_more() -> None:
    adm = Admission(AdmissionParams(initial=3))
    assert adm.room(0.0) == 3
    for _ in range(3):
        adm.started(0.0)
    assert adm.room(0.0) == 0


def test_a_full_window_grows_while_headroom_is_good() -> None:
    adm = Admission(AdmissionParams(initial=2, grow_every_s=0.01))
    adm.started(0.0)
    adm.started(0.0)
    adm.finished(1.0)  # it was the limit
    assert adm.window == 3
    adm.finished(1.001)  # not full any more: no growth
    assert adm.window == 3


def test_lag_past_target_halves_the_window_once_per_cut_period() -> None:
    adm = Admission(AdmissionParams(initial=16, cut_every_s=0.25))
    adm.observe("loop_lag", 0.1, 1.0)
    assert adm.window == 8
    adm.observe("loop_lag", 0.1, 1.1)  # the same slow moment, seen again
    assert adm.window == 8
    adm.observe("loop_lag", 0.1, 1.3)
    assert adm.window == 4
    assert adm.why is not None and "loop_lag" in adm.why


def test_a_stop_threshold_stops_launches_for_the_hold_then_restarts_at_the_floor() -> None:
    adm = Admission(AdmissionParams(initial=16, stop_hold_s=0.5))
    adm.observe("answer_to_refer", 0.6, 2.0)
    assert adm.room(2.0) == 0 and adm.room(2.49) == 0
    assert adm.next_deadline(2.1) == pytest.approx(2.5)
    assert adm.room(2.5) == 1
    assert adm.next_deadline(2.5) is None


def test_a_window_cut_lately_does_not_grow() -> None:
    adm = Admission(AdmissionParams(initial=4, cut_every_s=0.25))
    adm.observe("store_latency", 0.3, 1.0)  # → 2
    adm.started(1.1)
    adm.started(1.1)
    adm.finished(1.1)
    assert adm.window == 2


def test_bad_limits_are_refused_with_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="target < stop"):
        Limits(0.5, 0.1)
    with pytest.raises(ValueError, match="floor"):
        AdmissionParams(initial=0)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["observe", "start", "finish"]),
            st.sampled_from(SIGNALS),
            st.floats(0, 30_000),
            st.floats(0, 0.5),
        ),
        max_size=200,
    )
)
def test_the_window_stays_within_floor_and_ceiling_and_room_never_negative(
    ops: list[tuple[str, Any, float, float]],
) -> None:
    p = AdmissionParams(initial=4, floor=1, ceiling=10)
    adm = Admission(p)
    now = 0.0
    for op, signal, value, dt in ops:
        now += dt
        if op == "observe":
            adm.observe(signal, value, now)
        elif op == "start" and adm.room(now) > 0:
            adm.started(now)
        elif op == "finish" and adm.in_progress:
            adm.finished(now)
        assert p.floor <= adm.window <= p.ceiling
        assert adm.room(now) >= 0
        assert adm.in_progress <= p.ceiling
