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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from dialguard.law import CONNECT_DEADLINE_S
from dialguard.sip.api import MIN_RING_S


@dataclass
class CallRecord:
    """One call as the callee lived it. ``*_s`` fields are seconds since the INVITE
    arrived unless named ``a_to_b``; ``None`` means it did not happen."""

    call_id: str
    number: str
    outcome: str  # what the callee was going to do: live, voicemail, busy, … no_answer
    forced: bool = False
    invite_wall: str = ""  # ISO-8601 UTC of the INVITE, for people reading the file
    ring_start_s: float | None = None  # 180 (or 183 with early media) sent
    early_media: bool = False  # rang with 183 Session Progress + SDP
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
        agent_in_time = to_agent is not None and to_agent <= CONNECT_DEADLINE_S
        audio_in_time = to_audio is not None and to_audio <= CONNECT_DEADLINE_S
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
    abandon_rate: float | None  # abandoned / live_answers; None before any live answer

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Tally:
    """Running counts over records, so a simulator that runs for days can drop old
    records yet still summarise every call it served."""

    _COUNTS = (
        "attempts",
        "live_answers",
        "voicemail_answers",
        "connected",
        "abandoned",
        "abandoned_silent",
        "abandoned_message",
        "silent",
        "cancelled",
        "cancelled_before_15s",
        "busy",
        "unavailable",
        "not_found",
        "declined",
        "opted_out",
        "transfers_failed",
        "in_progress",
    )

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self._COUNTS, 0)
        self.min_ring_before_cancel_s: float | None = None
        self.max_answer_to_agent_s: float | None = None
        self.max_answer_to_audio_s: float | None = None

    def copy(self) -> Tally:
        t = Tally()
        t.counts = dict(self.counts)
        t.min_ring_before_cancel_s = self.min_ring_before_cancel_s
        t.max_answer_to_agent_s = self.max_answer_to_agent_s
        t.max_answer_to_audio_s = self.max_answer_to_audio_s
        return t

    def add(self, r: CallRecord) -> None:
        c = self.counts
        flags = {
            "attempts": True,
            "live_answers": r.answered and r.outcome == "live",
            "voicemail_answers": r.answered and r.outcome == "voicemail",
            "connected": r.answer_to_agent_s is not None,
            "abandoned": r.abandoned,
            "abandoned_silent": r.abandoned_kind == "silent",
            "abandoned_message": r.abandoned_kind == "message",
            "silent": r.silent,
            "cancelled": r.final == "cancelled",
            # a CANCEL before any 180 counts too: the phone rang 0 s
            "cancelled_before_15s": r.final == "cancelled"
            and (r.ring_before_cancel_s or 0.0) < MIN_RING_S,
            "busy": r.final_code == 486,
            "unavailable": r.final_code in (480, 503),
            "not_found": r.final_code == 404,
            "declined": r.final_code == 603,
            "opted_out": r.opted_out,
            "transfers_failed": r.transfer_code is not None and not 200 <= r.transfer_code < 300,
            "in_progress": r.final is None,
        }
        for key, hit in flags.items():
            c[key] += bool(hit)
        self.min_ring_before_cancel_s = _extreme(
            min, self.min_ring_before_cancel_s, r.ring_before_cancel_s
        )
        self.max_answer_to_agent_s = _extreme(max, self.max_answer_to_agent_s, r.answer_to_agent_s)
        self.max_answer_to_audio_s = _extreme(max, self.max_answer_to_audio_s, r.answer_to_audio_s)

    def summary(self) -> Summary:
        live = self.counts["live_answers"]
        return Summary(
            **self.counts,
            abandon_rate=self.counts["abandoned"] / live if live else None,
            min_ring_before_cancel_s=self.min_ring_before_cancel_s,
            max_answer_to_agent_s=self.max_answer_to_agent_s,
            max_answer_to_audio_s=self.max_answer_to_audio_s,
        )


def _extreme(
    pick: Callable[[float, float], float], current: float | None, value: float | None
) -> float | None:
    if value is None:
        return current
    return value if current is None else pick(current, value)


def summarise(records: Iterable[CallRecord]) -> Summary:
    """Counts over ``records`` (see :class:`Summary`)."""
    tally = Tally()
    for r in records:
        tally.add(r)
    return tally.summary()


class RecordWriter:
    """Appends each finished record as one JSON line, flushed, so a killed run keeps
    every call that ended."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, record: CallRecord) -> None:
        self._stream.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._stream.flush()
