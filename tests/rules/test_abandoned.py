"""One definition of an abandoned call and of a live answer; the worst rolling span."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dialguard.rules.abandoned import LiveAnswer, is_abandoned, live_answer, worst_span


def test_flag_outcome_or_a_late_connect_make_a_call_abandoned() -> None:
    assert is_abandoned(flagged=True, outcome="voicemail")  # an AMD false positive
    assert is_abandoned(flagged=False, outcome="abandoned")
    assert is_abandoned(flagged=False, outcome="connected", answered_at=10.0, connected_at=12.01)
    assert not is_abandoned(flagged=False, outcome="connected", answered_at=10.0, connected_at=12)
    assert not is_abandoned(flagged=False, outcome="no_answer")


def test_a_machine_answer_is_no_live_answer_unless_abandoned() -> None:
    def live(**f: object) -> LiveAnswer | None:
        base: dict[str, object] = {"flagged": False, "outcome": "connected", "created_at": 1.0,
                                   "answered_at": 5.0, "connected_at": 6.0}  # fmt: skip
        return live_answer(**{**base, **f})  # type: ignore[arg-type]

    assert live() == LiveAnswer(5.0, False)
    assert live(outcome="voicemail", connected_at=None) is None
    assert live(outcome="voicemail", flagged=True) == LiveAnswer(5.0, True)
    assert live(outcome="no_answer", answered_at=None, connected_at=None) is None
    # abandoned with no answer time recorded: still a live answer, at its dial time
    assert live(outcome="abandoned", answered_at=None, connected_at=None) == LiveAnswer(1.0, True)


def test_worst_span_inside_a_range_shorter_than_the_window_is_the_range() -> None:
    answers = [LiveAnswer(10.0, True), LiveAnswer(20.0, False)]
    w = worst_span(answers, 100.0, 0.0, 50.0)
    assert w is not None and (w.start, w.end, w.answered, w.abandoned) == (0.0, 50.0, 2, 1)
    assert worst_span([LiveAnswer(1.0, False)], 100.0, 0.0, 500.0) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1000), st.booleans()), min_size=1, max_size=40),
    st.integers(50, 400),
)
def test_no_span_of_the_window_length_is_worse_than_the_worst_span(
    raw: list[tuple[int, bool]], window: int
) -> None:
    """Against brute force: every span [s, s + window) on a fine grid of starts."""
    answers = [LiveAnswer(float(t), a) for t, a in raw]
    since, until = 0.0, 1200.0
    w = worst_span(answers, float(window), since, until)
    if not any(a.abandoned for a in answers):
        assert w is None
        return
    assert w is not None and w.end - w.start == window and since <= w.start <= until - window
    inside = [a for a in answers if w.start <= a.at < w.end]
    assert (w.answered, w.abandoned) == (len(inside), sum(a.abandoned for a in inside))
    for s2 in range(0, 2 * (int(until) - window) + 1):
        s = s2 / 2
        span = [a for a in answers if s <= a.at < s + window]
        if span:
            assert sum(a.abandoned for a in span) / len(span) <= w.rate + 1e-12


def _worst_by_bisection(
    answers: list[LiveAnswer], window: float, since: float, until: float
) -> tuple[float, int, int] | None:
    """The search as first written (two bisections per candidate start), kept as the
    reference for the two-pointer sweep: (start, answered, abandoned) of the worst."""
    import bisect

    ordered = sorted(answers, key=lambda a: a.at)
    times = [a.at for a in ordered]
    if not any(a.abandoned for a in ordered):
        return None
    if until - window <= since:
        inside = [a for a in ordered if since <= a.at < until]
        return since, len(inside), sum(a.abandoned for a in inside)
    starts = {since, until - window}
    starts.update(b for t in times for b in (t - window, t) if since <= b <= until - window)
    best: tuple[float, int, float, int, int] | None = None
    for s in sorted(starts):
        lo, hi = bisect.bisect_left(times, s), bisect.bisect_left(times, s + window)
        n, ab = hi - lo, sum(a.abandoned for a in ordered[lo:hi])
        rate = ab / n if n else 0.0
        if best is None or (rate, ab) > (best[0], best[1]):
            best = (rate, ab, s, n, ab)
    assert best is not None
    return best[2], best[3], best[4]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-50, 1300, allow_nan=False), st.booleans()), min_size=0, max_size=60
    ),
    st.floats(1, 1500, allow_nan=False),
)
def test_the_sweep_picks_the_span_the_bisection_picked(
    raw: list[tuple[float, bool]], window: float
) -> None:
    """Same span (the earliest of equal rate and abandons), same counts, ties included:
    answers at equal instants, at span edges, outside the range."""
    answers = [LiveAnswer(t, a) for t, a in raw]
    w = worst_span(answers, window, 0.0, 1200.0)
    expected = _worst_by_bisection(answers, window, 0.0, 1200.0)
    got = None if w is None else (w.start, w.answered, w.abandoned)
    assert got == expected
