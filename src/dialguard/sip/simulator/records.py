"""What the simulator writes down per call: the facts a regulator would check.

A dialler's own logs say what it meant to do; the callee's side says what happened to
the person: how long the phone rang before it stopped, how long they waited after
answering before an agent or a message reached them, whether they heard nothing. The
simulator keeps one :class:`CallRecord` per INVITE (times in seconds from the INVITE,
on the loop clock) and :func:`summarise` folds them into the counts a compliance test
asserts: abandoned (silent or with a message), cancelled before 15 s of ringing, the
worst answer-to-agent time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from dialguard.sip.api import MIN_RING_S

CONNECT_LIMIT_S = 2.0
"""An answered call must reach an agent (or, failing that, hear a message) this fast."""


@dataclass
class CallRecord:
    """One call as the callee lived it. ``*_s`` fields are seconds since the INVITE
    arrived unless named ``a_to_b``; ``None`` means it did not happen."""

    call_id: str
    number: str
    outcome: str  # what the callee was going to do: live, voicemail, busy, … no_answer
    forced: bool = False
    invite_wall: str = ""  # ISO-8601 UTC of the INVITE, for people reading the file
    ring_start_s: float | None = None  # 180 sent
    answer_s: float | None = None  # 200 OK sent
    cancel_s: float | None = None  # CANCEL received
    ring_before_cancel_s: float | None = None  # 180 → CANCEL: the minimum-ring check
    answer_to_refer_s: float | None = None  # 200 → REFER received
    answer_to_agent_s: float | None = None  # 200 → agent answered (NOTIFY 200 sent)
    answer_to_audio_s: float | None = None  # 200 → first RTP audio packet received
    transfer_target: str | None = None
    transfer_code: int | None = None  # the sipfrag status reported: 200, 480, …
    opted_out: bool = False  # pressed the opt-out key
    dtmf_sent_s: float | None = None
    talk_s: float | None = None  # time held with the agent (sampled, after speedup)
    final_code: int | None = None  # final response to the INVITE: 200, 486, 487, …
    final: str | None = None  # answered | cancelled | busy | … | no_ack | stopped
    ended_by: str | None = None  # caller (the dialler) | callee | trunk (simulator stop)
    end_s: float | None = None
    silent: bool = False  # answered, and neither agent nor audio within 2 s
    abandoned: bool = False  # a live answer not connected to an agent within 2 s
    abandoned_kind: str | None = None  # silent | message
    notes: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.answer_s is not None

    def close(self, final: str | None, end_s: float, ended_by: str | None) -> None:
        """Fix the outcome and judge the call by the 2-second rule."""
        if self.final is None:
            self.final = final
        self.end_s = round(end_s, 4) if self.end_s is None else self.end_s
        self.ended_by = self.ended_by or ended_by
        if not self.answered:
            return
        to_agent = self.answer_to_agent_s
        to_audio = self.answer_to_audio_s
        agent_in_time = to_agent is not None and to_agent <= CONNECT_LIMIT_S
        audio_in_time = to_audio is not None and to_audio <= CONNECT_LIMIT_S
        self.silent = not agent_in_time and not audio_in_time
        if self.outcome == "live" and not agent_in_time:
            self.abandoned = True
            self.abandoned_kind = "message" if audio_in_time else "silent"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """Counts over a run; ``abandoned = abandoned_silent + abandoned_message``."""

    attempts: int
    live_answers: int
    voicemail_answers: int
    connected: int
    abandoned: int
    abandoned_silent: int
    abandoned_message: int
    silent: int
    cancelled: int
    cancelled_before_15s: int
    min_ring_before_cancel_s: float | None
    busy: int
    unavailable: int
    not_found: int
    declined: int
    opted_out: int
    transfers_failed: int
    in_progress: int
    max_answer_to_agent_s: float | None
    max_answer_to_audio_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(records: list[CallRecord]) -> Summary:
    def count(pred: Any) -> int:
        return sum(1 for r in records if pred(r))

    rings = [r.ring_before_cancel_s for r in records if r.ring_before_cancel_s is not None]
    agent = [r.answer_to_agent_s for r in records if r.answer_to_agent_s is not None]
    audio = [r.answer_to_audio_s for r in records if r.answer_to_audio_s is not None]
    return Summary(
        attempts=len(records),
        live_answers=count(lambda r: r.answered and r.outcome == "live"),
        voicemail_answers=count(lambda r: r.answered and r.outcome == "voicemail"),
        connected=count(lambda r: r.answer_to_agent_s is not None),
        abandoned=count(lambda r: r.abandoned),
        abandoned_silent=count(lambda r: r.abandoned_kind == "silent"),
        abandoned_message=count(lambda r: r.abandoned_kind == "message"),
        silent=count(lambda r: r.silent),
        cancelled=count(lambda r: r.final == "cancelled"),
        # a CANCEL before any 180 counts too: the phone rang 0 s
        cancelled_before_15s=count(
            lambda r: r.final == "cancelled" and (r.ring_before_cancel_s or 0.0) < MIN_RING_S
        ),
        min_ring_before_cancel_s=min(rings) if rings else None,
        busy=count(lambda r: r.final_code == 486),
        unavailable=count(lambda r: r.final_code in (480, 503)),
        not_found=count(lambda r: r.final_code == 404),
        declined=count(lambda r: r.final_code == 603),
        opted_out=count(lambda r: r.opted_out),
        transfers_failed=count(
            lambda r: r.transfer_code is not None and not 200 <= r.transfer_code < 300
        ),
        in_progress=count(lambda r: r.final is None),
        max_answer_to_agent_s=max(agent) if agent else None,
        max_answer_to_audio_s=max(audio) if audio else None,
    )


class RecordWriter:
    """Appends each finished record as one JSON line, flushed, so a killed run keeps
    every call that ended."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, record: CallRecord) -> None:
        self._stream.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._stream.flush()
