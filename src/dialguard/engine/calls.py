"""One call's life in the engine: from the INVITE to the last record, carried out for
the pacer.

The pacer decides (connect to agent A, play the message); a :class:`CallJob` does it on
the wire through the SIP adapter, keeps the attempt row up to date at each step, and
reports back what happened as pacer events. It owns three timing promises:

* the attempt row exists before the INVITE leaves (the runner writes it first);
* an answered call reaches its agent, or hears the information message, within the
  campaign's connect deadline (2 s) — the transfer is given ``transfer_timeout_s`` and
  anything slower is treated as failed, so the message still starts in time;
* during the message the opt-out key puts the number on the internal DNC list at once.

SIP failure codes map onto the store's outcomes and the pacer's failure reasons here,
in one table, so reports and pacing agree on what a 486 or a 603 means.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dialguard.engine.messages import CallEvent as AgentCallEvent
from dialguard.engine.messages import ContactCard
from dialguard.logs import get_logger
from dialguard.pacing import events as pe
from dialguard.sip.api import Call, CallEvent, CallEventKind, Prompt
from dialguard.store import ContactRecord, Store

log = get_logger(__name__)

MIN_MESSAGE_S = 4.0
"""A short prompt (the built-in tones) is repeated to last at least this long."""
OPT_OUT_WAIT_S = 3.0
"""After the message, how long the line stays open for the opt-out key."""

# SIP final code → (store outcome, pacer failure reason)
_BY_CODE: dict[int, tuple[str, pe.FailReason]] = {
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


def classify_failure(code: int | None) -> tuple[str, pe.FailReason]:
    """Store outcome and pacer reason for a failed INVITE's final code."""
    if code is None:
        return ("failed", "error")
    if code in _BY_CODE:
        return _BY_CODE[code]
    if 500 <= code < 600:
        return ("unavailable", "error")
    return ("failed", "error")


@dataclass
class CallContext:
    """What a call needs from its engine; one per runner, shared by its calls."""

    store: Store
    campaign_id: str
    publish_agent: Callable[[str, AgentCallEvent], Awaitable[None]]
    agent_uri: Callable[[str], str]
    prompt: Prompt
    opt_out_digit: str
    add_internal_dnc: Callable[[str, str], Awaitable[None]]
    settle: Callable[[int, str, float, bool], Awaitable[None]]
    report: Callable[[pe.Event], None]
    on_record: Callable[[str, dict[str, Any]], None] = lambda kind, data: None
    transfer_timeout_s: float = 1.5
    wall: Callable[[], float] = time.time


@dataclass
class CallJob:
    """A placed call: follows its SIP events and carries out the pacer's decisions."""

    handle: int
    ctx: CallContext
    attempt_id: int
    contact: ContactRecord
    call: Call
    agent: str | None
    answered_at: float | None = None  # wall clock
    connected_agent: str | None = None
    outcome: str | None = None
    abandoned: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _ringing: bool = False
    _opted: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def opted_out(self) -> bool:
        return self._opted.is_set()

    # --- the SIP side -------------------------------------------------------------------

    async def follow(self) -> None:
        """Consume the call's events until it fails or ends; then settle the records."""
        try:
            async for ev in self.call.events():
                await self._on_event(ev)
        except Exception:
            log.exception("call_events_failed", call_id=self.call.call_id)
        finally:
            if self.outcome is None:  # the events broke off, or ended with no final one
                await self._finish("failed", None, "local", pe.Failed(self.handle, "error"))
            for t in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            self.done.set()

    async def _on_event(self, ev: CallEvent) -> None:
        now = self.ctx.wall()
        kind = ev.kind
        if kind in (CallEventKind.RINGING, CallEventKind.EARLY_MEDIA) and not self._ringing:
            self._ringing = True
            await self.ctx.store.update_attempt(self.attempt_id, ringing_at=now)
            self.ctx.report(pe.Ringing(self.handle))
        elif kind is CallEventKind.ANSWERED:
            self.answered_at = now
            await self.ctx.store.update_attempt(self.attempt_id, answered_at=now)
            self.ctx.on_record("answered", {})
            self.ctx.report(pe.Answered(self.handle))
        elif kind is CallEventKind.FAILED:
            outcome, reason = classify_failure(ev.code)
            by = "local" if ev.code == 487 else "remote"
            await self._finish(outcome, ev.code, by, pe.Failed(self.handle, reason))
        elif kind is CallEventKind.ENDED:
            if self.connected_agent is not None:
                outcome = "connected"
            elif self.abandoned:
                outcome = "abandoned"
            else:
                # Answered but never connected: the callee hung up while we connected, or
                # (ended by us) a 200 crossed our ring-timeout CANCEL and the adapter had
                # to hang up. Either way a person answered and reached nobody: abandoned.
                outcome = "abandoned"
                self.abandoned = True
                why = "cancel_crossed_answer" if ev.by == "local" else "caller_hung_up"
                await self.ctx.store.update_attempt(
                    self.attempt_id, abandoned=True, abandon_reason=why
                )
                self.ctx.on_record("abandoned", {"reason": why})
            await self._finish(outcome, None, ev.by or "remote", pe.Ended(self.handle))
        elif kind is CallEventKind.DTMF and ev.digit == self.ctx.opt_out_digit:
            await self._opt_out()

    async def _finish(self, outcome: str, code: int | None, by: str, event: pe.Event) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        now = self.ctx.wall()
        await self.ctx.store.update_attempt(
            self.attempt_id, outcome=outcome, sip_code=code, ended_at=now, ended_by=by
        )
        self.ctx.report(event)
        self.ctx.on_record("outcome", {"outcome": outcome, "abandoned": self.abandoned})
        if self.connected_agent is not None:
            await self._tell_agent(self.connected_agent, "ended", outcome=outcome)
        await self.ctx.settle(self.contact.id, outcome, now, self.opted_out)
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
        self._spawn(self._connect(agent))

    def play_message(self, reason: str) -> None:
        self._spawn(self._play_message(reason))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, agent: str) -> None:
        self.agent = agent
        await self._tell_agent(agent, "offer")
        try:
            result = await asyncio.wait_for(
                self.call.transfer(self.ctx.agent_uri(agent)), self.ctx.transfer_timeout_s
            )
            ok = result.kind is CallEventKind.TRANSFERRED
            why = f"{result.code} {result.reason or ''}".strip()
        except TimeoutError:
            ok, why = False, f"no transfer result within {self.ctx.transfer_timeout_s:g} s"
        except Exception as e:  # the call may have ended under us
            ok, why = False, f"transfer error: {e}"
        if self.outcome is not None:
            return
        if ok:
            now = self.ctx.wall()
            self.connected_agent = agent
            await self.ctx.store.update_attempt(self.attempt_id, connected_at=now, agent_id=agent)
            wait = now - (self.answered_at or now)
            self.ctx.on_record("connected", {"answer_to_agent_s": wait})
            await self._tell_agent(agent, "connected")
            self.ctx.report(pe.Connected(self.handle))
        else:
            log.warning("transfer_failed", call_id=self.call.call_id, agent=agent, why=why)
            await self._tell_agent(agent, "ended", outcome="transfer_failed")
            self.ctx.report(pe.ConnectFailed(self.handle))

    async def _play_message(self, reason: str) -> None:
        if self.outcome is not None:
            return
        self.abandoned = True
        now = self.ctx.wall()
        await self.ctx.store.update_attempt(
            self.attempt_id, abandoned=True, abandon_reason=reason, message_played_at=now
        )
        self.ctx.on_record("abandoned", {"reason": reason})
        log.warning(
            "information_message",
            call_id=self.call.call_id,
            campaign=self.ctx.campaign_id,
            number=self.contact.number,
            reason=reason,
        )
        prompt = self.ctx.prompt
        repeat = max(1, math.ceil(MIN_MESSAGE_S / prompt.duration_s)) if prompt.ulaw else 1
        with contextlib.suppress(Exception):
            await self.call.play(prompt, repeat=repeat)
        # Leave the callee a moment to press the opt-out key after the message ends.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opted.wait(), OPT_OUT_WAIT_S)
        if self.outcome is None:
            with contextlib.suppress(Exception):
                await self.call.hangup()

    async def _opt_out(self) -> None:
        if self.opted_out:
            return
        self._opted.set()
        await self.ctx.add_internal_dnc(self.contact.number, "opt-out key during message")
        await self.ctx.store.update_attempt(self.attempt_id, opted_out=True)
        self.ctx.on_record("opt_out", {})
        log.info("opted_out", campaign=self.ctx.campaign_id, number=self.contact.number)

    async def _tell_agent(self, agent: str, event: str, outcome: str | None = None) -> None:
        msg = AgentCallEvent(
            event=event,
            call_id=self.call.call_id,
            campaign=self.ctx.campaign_id,
            ts=self.ctx.wall(),
            contact=ContactCard(
                number=self.contact.number,
                name=self.contact.name or "",
                custom={k: str(v) for k, v in self.contact.custom.items()},
            )
            if event == "offer"
            else None,
            outcome=outcome,
        )
        try:
            await self.ctx.publish_agent(agent, msg)
        except Exception as e:  # the broker is down: the transfer still carries the call
            log.warning("agent_publish_failed", agent=agent, event=event, error=str(e))

    async def stop(self, grace_s: float) -> None:
        """Shutdown: let the call finish within ``grace_s``, else hang it up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), grace_s)
        if not self.done.is_set():
            with contextlib.suppress(Exception):
                await self.call.hangup()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), 5)
