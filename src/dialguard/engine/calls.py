"""One call's life in the engine: from the INVITE to the last record, carried out for
the pacer.

The pacer decides (connect to agent A, play the message); a :class:`CallJob` does it on
the wire through the SIP adapter, reports back what happened as pacer events, and hands
the attempt row's updates to the engine's write queue. Ordering is the promise:

* every SIP event reaches the pacer **before** any store write is even queued, so a slow
  or full disk can never keep an answered call from its agent (docs/design.md "Ordering");
* from the 200 OK nothing is awaited before the REFER: the agent's desktop is told in
  parallel, and the transfer goes over SIP even while the broker is away;
* a hard deadline armed at the answer (``connect_deadline_s`` minus the time the message
  needs to start) plays the information message if the agent is not connected by then,
  whatever the pacer, the broker or the transfer are doing — the callee hears a person
  or the message within 2 s of the 200 OK;
* exactly one final event (``Failed`` or ``Ended``) reaches the pacer per call, whatever
  raises, and the job owns every task it starts (a :class:`asyncio.TaskGroup`);
* during the message the opt-out key puts the number on the internal DNC list.

SIP failure codes map onto the store's outcomes and the pacer's failure reasons here,
in one table, so reports and pacing agree on what a 486 or a 603 means.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from dialguard.engine.trunk_health import is_trunk_refusal
from dialguard.engine.writes import StoreWrites
from dialguard.law import CONNECT_DEADLINE_S
from dialguard.logs import get_logger
from dialguard.mqtt.contract import AgentCallKind, AgentCallMessage, ContactCard
from dialguard.pacing import events as pe
from dialguard.pacing.decisions import MessageReason
from dialguard.sip.api import MIN_RING_S, Prompt, TrunkCall, TrunkEvent, TrunkEventKind
from dialguard.store import AttemptUpdate, ContactRecord, Store
from dialguard.store.records import AttemptOutcome

log = get_logger(__name__)

MIN_MESSAGE_S: Final = 4.0
"""A short prompt (the built-in tones) is repeated to last at least this long."""
OPT_OUT_WAIT_S: Final = 3.0
"""After the message, how long the line stays open for the opt-out key."""
MESSAGE_START_S: Final = 0.3
"""What starting the message costs (first RTP packet out): the hard deadline fires this
long before answer + connect deadline, so the audio starts inside it."""
HANGUP_WAIT_S: Final = MIN_RING_S + 5.0
"""A hang-up of a call still ringing waits for the legal ring floor (the adapter will
not CANCEL sooner), so it may take that long; longer than this is a broken trunk."""
TELL_AGENT_S: Final = 5.0
"""A desktop message not delivered by then is given up (logged); the call goes on."""
BYE_WAIT_S: Final = 5.0
"""At shutdown, how long an answered call's own hang-up (a BYE) may take to be answered."""

# SIP final code → (store outcome, pacer failure reason)
_BY_CODE: dict[int, tuple[AttemptOutcome, pe.FailReason]] = {
    486: ("busy", "busy"),
    600: ("busy", "busy"),
    404: ("invalid", "invalid"),
    410: ("invalid", "invalid"),
    484: ("invalid", "invalid"),
    604: ("invalid", "invalid"),
    480: ("unavailable", "no_answer"),
    408: ("no_answer", "no_answer"),
    487: ("no_answer", "no_answer"),  # we cancelled at the ring timeout
    603: ("rejected", "rejected"),
}


def classify_failure(code: int | None) -> tuple[AttemptOutcome, pe.FailReason]:
    """Store outcome and pacer reason for a failed INVITE's final code."""
    if code is None:
        return ("failed", "error")
    if code in _BY_CODE:
        return _BY_CODE[code]
    if 500 <= code < 600:
        return ("unavailable", "error")
    return ("failed", "error")


AbandonReason = (
    MessageReason
    | Literal[
        "transfer_failed",
        "fork_answered",
        "cancel_crossed_answer",
        "caller_hung_up",
        "late_connect",
        "answered_after_restart",
    ]
)
"""Why an answered person reached nobody: the pacer's message reasons, a failed or late
transfer, a second callee of a forked INVITE, a 200 OK that crossed our CANCEL, the
callee hanging up while we connected, or an answer to a call placed by the process
before a crash (engine.py). Stored as the attempt's ``abandon_reason``."""


class CallReports(Protocol):
    """What a call tells the runner that owns it, one method per fact, so a fact the
    runner does not handle is a type error rather than a string nobody matched.

    Called on the event loop, after the pacer has heard the event and before any store
    write; implementations count and must not block."""

    def answered(self) -> None:
        """A person (or a machine) picked up: the 200 OK."""

    def connected(self, answer_to_agent_s: float) -> None:
        """The transfer to an agent completed this long after the answer."""

    def abandoned(self, reason: AbandonReason) -> None:
        """An answered person reached nobody (at most once per call, and once per
        answered fork leg)."""

    def finished(self, outcome: AttemptOutcome) -> None:
        """The call's one final outcome."""

    def opted_out(self) -> None:
        """The callee pressed the opt-out key during the message."""

    def trunk_refused(self, code: int | None, retry_after: float | None) -> float:
        """The trunk (not the callee) refused the INVITE; returns the wall-clock time
        the contact may be retried without being charged an attempt."""

    def trunk_carried(self) -> None:
        """The trunk carried a call to the callee (it rang, or the callee answered)."""


@dataclass
class CallContext:
    """What a call needs from its engine; one per runner, shared by its calls."""

    store: Store
    writes: StoreWrites
    campaign_id: str
    publish_agent: Callable[[str, AgentCallMessage], Awaitable[None]]
    agent_uri: Callable[[str], str]
    prompt: Prompt
    opt_out_digit: str
    add_internal_dnc: Callable[[str, str], Awaitable[None]]
    settle: Callable[[ContactRecord, AttemptOutcome, float, bool, float | None], Awaitable[None]]
    report: Callable[[pe.Event], None]
    reports: CallReports
    transfer_timeout_s: float = 1.0
    connect_deadline_s: float = CONNECT_DEADLINE_S
    wrap_up_cap_s: Callable[[], float | None] = lambda: None
    wall: Callable[[], float] = time.time
    referred: Callable[[float], None] = lambda answer_to_refer_s: None
    """Told how long after the 200 OK each REFER was handed to the SIP stack (the
    engine's admission control launches less when that grows)."""


@dataclass
class CallJob:
    """A placed call: follows its SIP events and carries out the pacer's decisions."""

    handle: int
    ctx: CallContext
    attempt_id: int
    contact: ContactRecord
    call: TrunkCall
    agent: str | None
    answered_at: float | None = None  # wall clock, for the records
    connected_agent: str | None = None
    outcome: AttemptOutcome | None = None
    abandoned: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _tg: asyncio.TaskGroup | None = None
    _answered_t: float | None = None  # loop time of the 200 OK, for the deadline
    _deadline: asyncio.TimerHandle | None = None
    _connecting: asyncio.Task[None] | None = None
    _messaging: bool = False
    _ringing: bool = False
    _opted: asyncio.Event = field(default_factory=asyncio.Event)
    _ended_on_wire: bool = False  # the trunk said the call is over (final or BYE)

    @property
    def opted_out(self) -> bool:
        return self._opted.is_set()

    # --- the SIP side -------------------------------------------------------------------

    async def follow(self) -> None:
        """Own the call until it fails or ends and every task it started is done.

        The pacer hears exactly one final event whatever happens here; an unexpected
        error is logged and raised to the runner (a bug stops the daemon, whose restart
        reconciles the records), after the call is hung up."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                try:
                    async for ev in self.call.events():
                        self._on_event(ev)
                except Exception:
                    log.exception("call_events_failed", call_id=self.call.call_id)
                if self.outcome is None:  # the events broke off, or ended with no final one
                    self._finish("failed", None, "local", pe.Failed(self.handle, "error"))
                self._disarm()
        finally:
            self._tg = None
            self._disarm()
            if self.outcome is None:  # cancelled or crashed under us
                self._finish("failed", None, "local", pe.Failed(self.handle, "error"))
            if not self._ended_on_wire:  # whatever broke, never leave the call up
                await self._hang_up("job stopped")
            self.done.set()

    def _on_event(self, ev: TrunkEvent) -> None:
        now = self.ctx.wall()
        kind = ev.kind
        if kind in (TrunkEventKind.FAILED, TrunkEventKind.ENDED):
            self._ended_on_wire = True
        if kind in (TrunkEventKind.RINGING, TrunkEventKind.EARLY_MEDIA) and not self._ringing:
            self._ringing = True
            self.ctx.reports.trunk_carried()
            self.ctx.report(pe.Ringing(self.handle))
            self._record(AttemptUpdate.ringing(self.attempt_id, now))
        elif kind is TrunkEventKind.ANSWERED and self.answered_at is None:
            self.ctx.reports.trunk_carried()
            self.answered_at = now
            self._answered_t = ev.t
            self._arm_deadline(ev.t)
            self.ctx.report(pe.Answered(self.handle))
            self._record(AttemptUpdate.answered(self.attempt_id, now))
            self.ctx.reports.answered()
        elif kind is TrunkEventKind.FAILED:
            outcome, reason = classify_failure(ev.code)
            by = "local" if ev.code == 487 else "remote"
            retry_at = None
            if not self._ringing and is_trunk_refusal(ev.code, ev.retry_after):
                retry_at = self.ctx.reports.trunk_refused(ev.code, ev.retry_after)
                self._record(AttemptUpdate.trunk_fault(self.attempt_id))
            elif ev.code is not None and ev.code != 487:
                self.ctx.reports.trunk_carried()  # a callee's own answer (486, 404, 603 …)
            self._finish(outcome, ev.code, by, pe.Failed(self.handle, reason), retry_at)
        elif kind is TrunkEventKind.ENDED:
            if self.connected_agent is not None:
                outcome = "connected"
            elif self.abandoned:
                outcome = "abandoned"
            else:
                # Answered but never connected: the callee hung up while we connected, or
                # (ended by us) a 200 crossed our ring-timeout CANCEL and the adapter had
                # to hang up. Either way a person answered and reached nobody: abandoned.
                outcome = "abandoned"
                local = ev.by == "local"
                self._abandon("cancel_crossed_answer" if local else "caller_hung_up")
            self._finish(outcome, None, ev.by or "remote", pe.Ended(self.handle))
        elif kind is TrunkEventKind.DTMF and ev.digit == self.ctx.opt_out_digit:
            self._opt_out()
        elif kind is TrunkEventKind.FORK_ANSWERED:
            # A second callee of a forked INVITE answered; the adapter ACKed and hung
            # up on them (RFC 3261 §13.2.2.4). A person heard nobody: count it.
            self.ctx.reports.abandoned("fork_answered")
            log.warning(
                "fork_answered_hung_up",
                call_id=self.call.call_id,
                campaign=self.ctx.campaign_id,
                number=self.contact.number,
            )

    def _finish(
        self,
        outcome: AttemptOutcome,
        code: int | None,
        by: str,
        event: pe.Event,
        trunk_retry_at: float | None = None,
    ) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        self._disarm()
        self.ctx.report(event)  # the pacer first: the agent is free again at once
        now = self.ctx.wall()
        self._record(
            AttemptUpdate.settled(
                self.attempt_id, outcome, ended_at=now, ended_by=by, sip_code=code
            )
        )
        opted = self.opted_out
        contact = self.contact  # as claimed for this call: settle needs no read of it
        self.ctx.writes.submit(
            f"settle contact {contact.id}",
            lambda: self.ctx.settle(contact, outcome, now, opted, trunk_retry_at),
        )
        self.ctx.reports.finished(outcome)
        if self.connected_agent is not None:
            self._background(self._tell_agent(self.connected_agent, "ended", outcome=outcome))
        log.info(
            "call_ended",
            call_id=self.call.call_id,
            campaign=self.ctx.campaign_id,
            number=self.contact.number,
            agent=self.connected_agent or self.agent,
            outcome=outcome,
            sip_code=code,
        )

    # --- decisions from the pacer --------------------------------------------------------

    def connect(self, agent: str) -> None:
        if self.outcome is not None or self._messaging or self._connecting is not None:
            log.info("connect_ignored", call_id=self.call.call_id, agent=agent)
            return
        self._connecting = self._background(self._connect(agent))

    def play_message(self, reason: MessageReason) -> None:
        self._start_message(reason)

    async def _connect(self, agent: str) -> None:
        self.agent = agent
        # The desktop learns of the call in parallel: the REFER never waits for MQTT.
        self._background(self._tell_agent(agent, "offer"))
        budget = self.ctx.transfer_timeout_s
        if self._answered_t is not None:
            left = self._answered_t + self.ctx.connect_deadline_s - MESSAGE_START_S
            now = asyncio.get_running_loop().time()
            budget = min(budget, left - now)
            self.ctx.referred(now - self._answered_t)
        try:
            if budget <= 0:
                raise TimeoutError
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for wraps the transfer in
            # a task of its own, so the REFER left one turn of the event loop later (at
            # load a turn is every ready call's callbacks); this way the adapter hands it
            # to the SIP stack in this very step.
            async with asyncio.timeout(budget):
                result = await self.call.transfer(self.ctx.agent_uri(agent))
            ok = result.kind is TrunkEventKind.TRANSFERRED
            why = f"{result.code} {result.reason or ''}".strip()
        except TimeoutError:
            ok, why = False, f"no transfer result within {max(budget, 0):.2f} s"
        except Exception as e:  # the call may have ended under us
            ok, why = False, f"transfer error: {e!r}"
        self._connecting = None
        if self.outcome is not None or self._messaging:
            return
        if ok:
            self._connected(agent)
            return
        log.warning("transfer_failed", call_id=self.call.call_id, agent=agent, why=why)
        self.ctx.report(pe.ConnectFailed(self.handle))
        self._start_message("transfer_failed")
        self._background(self._tell_agent(agent, "ended", outcome="transfer_failed"))

    def _connected(self, agent: str) -> None:
        self._disarm()
        self.connected_agent = agent
        self.ctx.report(pe.Connected(self.handle))
        now = self.ctx.wall()
        wait = now - (self.answered_at or now)
        late = wait > self.ctx.connect_deadline_s
        self._record(AttemptUpdate.connected(self.attempt_id, now, agent))
        self.ctx.reports.connected(wait)
        if late:  # cannot happen with the deadline armed; counted if it ever does
            self._abandon("late_connect")
        self._background(self._tell_agent(agent, "connected"))

    # --- the hard deadline and the message ----------------------------------------------

    def _arm_deadline(self, answered_t: float) -> None:
        loop = asyncio.get_running_loop()
        at = answered_t + self.ctx.connect_deadline_s - MESSAGE_START_S
        self._deadline = loop.call_at(at, self._deadline_passed)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.outcome is not None or self._messaging or self.connected_agent is not None:
            return
        connecting = self._connecting
        if connecting is not None:
            connecting.cancel()
            self._connecting = None
            self.ctx.report(pe.ConnectFailed(self.handle))
        log.warning(
            "connect_deadline_passed",
            call_id=self.call.call_id,
            agent=self.agent,
            connecting=connecting is not None,
        )
        self._start_message("connect_timeout")

    def _start_message(self, reason: AbandonReason) -> None:
        if self.outcome is not None or self._messaging or self.connected_agent is not None:
            return
        self._messaging = True
        self._disarm()
        if self._connecting is not None:  # the pacer's own deadline overtook the transfer
            self._connecting.cancel()
            self._connecting = None
        self._abandon(reason, message_played_at=self.ctx.wall())
        log.warning(
            "information_message",
            call_id=self.call.call_id,
            campaign=self.ctx.campaign_id,
            number=self.contact.number,
            reason=reason,
        )
        self._background(self._message())

    async def _message(self) -> None:
        prompt = self.ctx.prompt
        repeat = max(1, math.ceil(MIN_MESSAGE_S / prompt.duration_s)) if prompt.ulaw else 1
        try:
            await self.call.play(prompt, repeat=repeat)
        except Exception as e:  # the callee may have hung up; say so, then carry on
            if self.outcome is None:
                log.error("information_message_failed", call_id=self.call.call_id, error=repr(e))
        # Leave the callee a moment to press the opt-out key after the message ends.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opted.wait(), OPT_OUT_WAIT_S)
        if self.outcome is None:
            await self._hang_up("after the information message")

    def _abandon(self, reason: AbandonReason, message_played_at: float | None = None) -> None:
        if self.abandoned:
            return
        self.abandoned = True
        self._record(
            AttemptUpdate.abandoned(self.attempt_id, reason, message_played_at=message_played_at)
        )
        self.ctx.reports.abandoned(reason)

    def _opt_out(self) -> None:
        if self.opted_out:
            return
        self._opted.set()
        number = self.contact.number
        self.ctx.writes.submit(
            "internal DNC entry",
            lambda: self.ctx.add_internal_dnc(number, "opt-out key during message"),
        )
        self._record(AttemptUpdate.opted_out(self.attempt_id))
        self.ctx.reports.opted_out()
        log.info("opted_out", campaign=self.ctx.campaign_id, number=number)

    # --- helpers ---------------------------------------------------------------------------

    def _record(self, update: AttemptUpdate) -> None:
        """Queue an update of the attempt row (after the pacer has heard the event): the
        write queue batches it with others (engine/writes.py)."""
        self.ctx.writes.update(self.ctx.store, update)

    def _background(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run ``coro`` as a child of this job (awaited before the job is done)."""
        if self._tg is None:  # the job is already winding down: nothing more to start
            coro.close()
            return None
        return self._tg.create_task(coro)

    def _answered_unserved(self) -> bool:
        """Answered, not finished, and neither with an agent nor past the message."""
        return (
            not self.done.is_set()
            and self.answered_at is not None
            and self.connected_agent is None
            and self.outcome is None
        )

    async def _hang_up(self, why: str) -> None:
        try:
            await asyncio.wait_for(self.call.hangup(), HANGUP_WAIT_S)
        except Exception as e:
            log.error("hangup_failed", call_id=self.call.call_id, why=why, error=repr(e))

    async def _tell_agent(
        self, agent: str, event: AgentCallKind, outcome: str | None = None
    ) -> None:
        msg = AgentCallMessage(
            event=event,
            call_id=self.call.call_id,
            campaign=self.ctx.campaign_id,
            ts=self.ctx.wall(),
            contact=ContactCard.of(self.contact) if event == "offer" else None,
            outcome=outcome,
            wrap_up_cap_s=self.ctx.wrap_up_cap_s() if event == "ended" else None,
        )
        try:
            await asyncio.wait_for(self.ctx.publish_agent(agent, msg), TELL_AGENT_S)
        except Exception as e:  # the broker is down: the transfer still carries the call
            log.warning("agent_publish_failed", agent=agent, call_event=event, error=repr(e))

    async def stop(self, grace_s: float) -> None:
        """Shutdown: let the call finish within ``grace_s``, else hang it up. Never a
        callee who answered and has reached no agent: their call runs its own course
        first (an agent by the connect deadline, else the message and the opt-out
        wait), as a ringing call's 15 s floor outlasts the grace too."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), grace_s)
        if self._answered_unserved():
            message_s = MIN_MESSAGE_S + self.ctx.prompt.duration_s  # repeats round up
            bound = self.ctx.connect_deadline_s + message_s + OPT_OUT_WAIT_S + BYE_WAIT_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), bound)
        if not self.done.is_set():
            await self._hang_up("shutdown")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), HANGUP_WAIT_S)
