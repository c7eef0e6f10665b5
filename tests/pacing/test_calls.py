"""The call transition table: legal paths, tolerated duplicates, refused jumps."""

from __future__ import annotations

import pytest

from dialguard.pacing import TRANSITIONS, Call, PacingProtocolError
from dialguard.pacing.calls import DUPLICATES


def new_call() -> Call:
    return Call(1, "a1", True, 0.0, 20.0)


def test_happy_path_walks_the_table_to_done() -> None:
    c = new_call()
    for step in ("Launched", "Ringing", "Answered", "connect", "Connected", "Ended"):
        assert c.step(step)
    assert c.state == "done"


def test_duplicates_are_ignored_and_impossible_steps_raise_naming_the_call() -> None:
    c = new_call()
    c.step("Launched")
    c.step("Ringing")
    assert c.step("Ringing") is False and c.state == "ringing"
    with pytest.raises(PacingProtocolError, match="call 1: Connected is not possible in state"):
        c.step("Connected")
    assert c.state == "ringing"


def test_every_state_but_done_has_a_way_out_and_tables_do_not_overlap() -> None:
    states = {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values())
    for s in states - {"done"}:
        assert any(src == s for src, _ in TRANSITIONS), s
    assert not set(TRANSITIONS) & DUPLICATES


def test_every_step_moves_some_call_and_the_events_are_real_event_classes() -> None:
    """The ``Step`` vocabulary and the table agree, and each capitalised step names an
    event class the engine can send (so a renamed event cannot leave a dead row)."""
    from typing import get_args

    from dialguard.pacing import events
    from dialguard.pacing.calls import Step

    steps = set(get_args(Step))
    assert steps == {st for _, st in TRANSITIONS}
    for st in steps:
        if st[0].isupper():
            assert isinstance(getattr(events, st, None), type), st
