"""Per-call records judged by the 2-second rule, and the run summary."""

from __future__ import annotations

import io
import json

from dialguard.sip.simulator.records import CallRecord, RecordWriter, summarise


def _answered(outcome: str = "live", **kw: float | None) -> CallRecord:
    r = CallRecord(call_id="c", number="+441632960001", outcome=outcome, answer_s=5.0)
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_agent_within_two_seconds_is_connected_not_abandoned() -> None:
    r = _answered(answer_to_agent_s=1.9)
    r.close("answered", 60, "callee")
    assert not r.abandoned and not r.silent and r.abandoned_kind is None


def test_agent_after_two_seconds_is_abandoned_even_if_connected() -> None:
    r = _answered(answer_to_agent_s=2.2)
    r.close("answered", 60, "callee")
    assert r.abandoned and r.abandoned_kind == "silent" and r.silent


def test_message_within_two_seconds_is_abandoned_with_message() -> None:
    r = _answered(answer_to_audio_s=0.4)
    r.close("answered", 10, "caller")
    assert r.abandoned and r.abandoned_kind == "message" and not r.silent


def test_voicemail_is_not_counted_abandoned_but_can_be_silent() -> None:
    r = _answered("voicemail")
    r.close("answered", 10, "callee")
    assert not r.abandoned and r.silent


def test_close_is_first_writer_wins() -> None:
    r = CallRecord(call_id="c", number="n", outcome="busy")
    r.close("busy", 1.5, None)
    r.close("stopped", 9.0, "trunk")
    assert (r.final, r.end_s, r.ended_by) == ("busy", 1.5, "trunk")


def test_summary_counts() -> None:
    rs = [
        _answered(answer_to_agent_s=0.3),
        _answered(answer_to_agent_s=1.1),
        _answered(answer_to_audio_s=0.5, opted_out=True),
        _answered(),
        _answered("voicemail", answer_to_agent_s=0.2),
    ]
    for r in rs:
        r.close("answered", 30, "callee")
    cancelled = [CallRecord("x", "n", "no_answer", ring_before_cancel_s=s) for s in (14.9, 15.0)]
    cancelled.append(CallRecord("y", "n", "no_answer"))  # cancelled before any 180
    for r in cancelled:
        r.final_code = 487
        r.close("cancelled", 16, None)
    busy = CallRecord("z", "n", "busy", final_code=486)
    busy.close("busy", 2, None)
    s = summarise([*rs, *cancelled, busy, CallRecord("o", "n", "live")])
    assert s.attempts == 10 and s.in_progress == 1
    assert (s.live_answers, s.voicemail_answers, s.connected) == (4, 1, 3)
    assert (s.abandoned, s.abandoned_silent, s.abandoned_message) == (2, 1, 1)
    assert s.silent == 1  # the live call that heard nothing (voicemail got an agent)
    assert (s.cancelled, s.cancelled_before_15s, s.min_ring_before_cancel_s) == (3, 2, 14.9)
    assert s.busy == 1 and s.opted_out == 1
    assert s.max_answer_to_agent_s == 1.1 and s.max_answer_to_audio_s == 0.5
    assert s.abandon_rate == 0.5  # 2 abandoned of 4 live answers
    assert summarise([busy]).abandon_rate is None


def test_writer_one_json_line_per_record() -> None:
    buf = io.StringIO()
    w = RecordWriter(buf)
    r = _answered(answer_to_agent_s=0.5)
    r.close("answered", 10, "callee")
    w.write(r)
    w.write(CallRecord("b", "+441632960002", "busy"))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["answer_to_agent_s"] == 0.5
    assert json.loads(lines[1])["number"] == "+441632960002"
