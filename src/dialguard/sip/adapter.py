"""The SIP trunk adapter: :class:`SippyTrunk` and its calls, the asyncio face of sippy.

The engine codes against :mod:`dialguard.sip.api`; this module implements that contract
over sippy's RFC 3261 stack. sippy runs in one thread of its own for the whole process
(:mod:`._sippy_bridge`); each trunk has a socket and transaction manager there
(:mod:`._sippy_stack`). Commands go in with ``callFromThread``; what sippy sees comes
back with ``loop.call_soon_threadsafe`` and is turned into :class:`TrunkEvent` values by a
small per-call state machine (:data:`TRANSITIONS`), so the engine sees events in an order
that makes sense (no ``ringing`` after ``answered``, nothing after ``ended``).

The rules this module keeps on the wire, whatever the caller asks:

* **Ring floor.** An unanswered call is cancelled at ``ring_timeout`` after the INVITE,
  but never before it has rung :data:`~dialguard.sip.api.MIN_RING_S` (timed from the
  first 180, or 183 with SDP — a 183 without SDP is progress, nothing rings — plus a
  small margin so the far end measures ≥ 15 s too). ``cancel()``,
  ``hangup()`` and ``stop()`` wait for the floor as well. A call the trunk never reports
  as ringing is cancelled at ``ring_timeout + MIN_RING_S`` after the INVITE: if its phone
  rang unreported, it rang no earlier than the INVITE. An explicit ``cancel()`` before
  any ringing goes out at once (nothing has rung yet).
* **No half-open calls.** A 200 that crosses our CANCEL is ACKed and BYEd (reported as
  ``answered`` then ``ended`` by local); every failure final is ACKed (sippy) and ends the
  call with its code; ``stop()`` cancels or hangs up every call before closing the
  socket.
* **Identities.** Call-IDs, tags and branches are 128-bit random values, never counters,
  so they stay unique across restarts.

Time in events is ``loop.time()``; sippy's receive stamps are converted, so ``t`` is when
the datagram arrived, not when the loop got round to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from dialguard.logs import get_logger
from dialguard.sip._sippy_bridge import SippyThread, sippy_thread
from dialguard.sip.api import MIN_RING_S, Prompt, TrunkEvent, TrunkEventKind
from dialguard.sip.rtp import DtmfDigit, RtpEndpoint
from dialguard.sip.sdp import SdpError, build_sdp, parse_sdp

log = get_logger(__name__)

K = TrunkEventKind

RING_FLOOR_MARGIN_S = 0.05
"""Added to MIN_RING_S: our 180 timestamp is when it reached us, the callee's network
started ringing a little earlier; the margin keeps the far end's measure ≥ 15 s too."""
CANCEL_SETTLE_S = 5.0
"""How long ``cancel()``/``stop()`` wait for the final answer to a CANCEL before moving on
(a trunk that never answered at all has no dialog to leave open)."""
CANCEL_GIVE_UP_S = 32.0
"""RFC 3261 §9.1: with no final answer to the INVITE 64·T1 after our CANCEL, the call
is over. Without it, a call whose 200 OK was lost (and whose callee then gave up and
hung up) rang forever on our side, holding its agent."""
REGISTER_TIMEOUT_S = 10.0
STOP_DRAIN_S = 4.0
"""``stop()`` waits at most this long for answers to its last BYEs and CANCELs."""
DEFAULT_TRANSFER_TIMEOUT_S = 30.0

_NUMBER = re.compile(r"\+?[0-9]{1,15}")
_SIPFRAG_STATUS = re.compile(r"^\s*SIP/2\.0\s+(\d{3})\s*(.*)$", re.MULTILINE)


class TrunkError(RuntimeError):
    """The trunk cannot be used (socket, registration, or stopped)."""


class SipCallState(enum.StrEnum):
    CALLING = "calling"  # INVITE sent, nothing heard
    PROCEEDING = "proceeding"  # 100 Trying, or 18x progress without SDP
    RINGING = "ringing"  # 180, or 183 with SDP (early media)
    ANSWERED = "answered"  # 200 OK, ACK sent
    FAILED = "failed"  # final failure, or cancelled
    ENDED = "ended"  # answered, then BYE either way


TRANSITIONS: dict[SipCallState, dict[TrunkEventKind, SipCallState]] = {
    SipCallState.CALLING: {
        K.TRYING: SipCallState.PROCEEDING,
        K.PROGRESS: SipCallState.PROCEEDING,
        K.RINGING: SipCallState.RINGING,
        K.EARLY_MEDIA: SipCallState.RINGING,
        K.ANSWERED: SipCallState.ANSWERED,
        K.FAILED: SipCallState.FAILED,
    },
    SipCallState.PROCEEDING: {
        K.PROGRESS: SipCallState.PROCEEDING,
        K.RINGING: SipCallState.RINGING,
        K.EARLY_MEDIA: SipCallState.RINGING,
        K.ANSWERED: SipCallState.ANSWERED,
        K.FAILED: SipCallState.FAILED,
    },
    SipCallState.RINGING: {
        K.RINGING: SipCallState.RINGING,
        K.EARLY_MEDIA: SipCallState.RINGING,
        K.DTMF: SipCallState.RINGING,
        K.ANSWERED: SipCallState.ANSWERED,
        K.FAILED: SipCallState.FAILED,
    },
    SipCallState.ANSWERED: {
        K.DTMF: SipCallState.ANSWERED,
        K.FORK_ANSWERED: SipCallState.ANSWERED,
        K.TRANSFERRED: SipCallState.ANSWERED,
        K.TRANSFER_FAILED: SipCallState.ANSWERED,
        K.ENDED: SipCallState.ENDED,
    },
    SipCallState.FAILED: {},
    SipCallState.ENDED: {},
}
"""Which event may follow in which state, and where it leads. An event not listed for
the current state is dropped (and logged at debug): a late 180 after the 200, a BYE
retransmission, DTMF after the end."""

TERMINAL = frozenset({SipCallState.FAILED, SipCallState.ENDED})
UNANSWERED = frozenset({SipCallState.CALLING, SipCallState.PROCEEDING, SipCallState.RINGING})


def _check_number(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        raise ValueError(f"{what} must be a phone number in E.164 form (+ and 1–15 digits)")
    return value


def _check_sip_uri(uri: str) -> str:
    m = re.fullmatch(r"(sips?):([^@\s]+@)?([A-Za-z0-9.\-\[\]:]+)(;[^\s]*)?", uri or "")
    if m is None:
        raise ValueError(f"transfer target {uri!r} is not a SIP URI (sip:user@host[:port])")
    return uri


class SippyCall:
    """One outbound call placed by :meth:`SippyTrunk.originate` (implements ``api.Call``).

    ``events()`` yields every :class:`TrunkEvent` in order and ends after FAILED or ENDED.
    ``state``, ``history`` and the ``*_at`` timestamps (``loop.time()``) are there for the
    engine's audit record.
    """

    def __init__(
        self,
        trunk: SippyTrunk,
        call_id: str,
        number: str,
        caller_id: str,
        ring_timeout: float,
        rtp: RtpEndpoint | None,
    ) -> None:
        self._trunk = trunk
        self._loop = trunk._require_loop()
        self.call_id = call_id
        self.number = number
        self.caller_id = caller_id
        self.ring_timeout = ring_timeout
        self.state = SipCallState.CALLING
        self.history: list[TrunkEvent] = []
        self.invite_at = self._loop.time()
        self.ring_started_at: float | None = None
        self.answered_at: float | None = None
        self.finished_at: float | None = None
        self.cancel_requested_at: float | None = None
        self.final_code: int | None = None
        self.final_reason: str | None = None
        self.extra_answers: list[TrunkEvent] = []
        """2xx from other callees of a forked INVITE, each ACKed and hung up at once
        (RFC 3261 §13.2.2.4): a person answered and heard nothing, so the engine's
        figures must count them whatever the call's own outcome."""
        self.leg: Any = None  # _sippy_stack.Leg, touched only in the sippy thread
        self._rtp = rtp
        self._queue: asyncio.Queue[TrunkEvent] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._seen_provisional: set[TrunkEventKind] = set()
        self._cancel_sent = False
        self._ring_timer: asyncio.TimerHandle | None = None
        self._give_up_timer: asyncio.TimerHandle | None = None
        self._transfer: asyncio.Future[TrunkEvent] | None = None
        self._transfer_accepted = False
        self._closing: asyncio.Task[None] | None = None
        if rtp is not None:
            rtp.on_dtmf = self._on_dtmf

    # --- the contract ----------------------------------------------------------------

    async def events(self) -> AsyncIterator[TrunkEvent]:
        """Every event of this call in order; ends after FAILED or ENDED."""
        while True:
            if self.finished and self._queue.empty():
                return  # a second iteration after the end: nothing more will come
            event = await self._queue.get()
            yield event
            if event.kind in (K.FAILED, K.ENDED):
                return

    async def cancel(self) -> None:
        """CANCEL an unanswered call, waiting first until it has rung MIN_RING_S (if it
        is ringing). No effect on a call that is answered or over."""
        if self.state not in UNANSWERED:
            return
        await self._wait_ring_floor()
        if self.state in UNANSWERED:
            self._send_cancel_or_bye("cancel requested")
            await self.wait_finished(CANCEL_SETTLE_S)

    async def hangup(self) -> None:
        """End the call whatever its state: BYE if answered, CANCEL (after the ring
        floor) if not; returns once the call is over or the CANCEL had time to settle."""
        if self.state in UNANSWERED:
            await self.cancel()
        if self.state is SipCallState.ANSWERED:
            self._send_cancel_or_bye("hangup requested")
            await self.wait_finished(CANCEL_SETTLE_S)

    async def transfer(self, target_uri: str) -> TrunkEvent:
        """Blind transfer: REFER to ``target_uri``; the result comes from the NOTIFY
        sipfrag (RFC 3515). Returns the TRANSFERRED or TRANSFER_FAILED event (also sent
        to ``events()``). The call stays up: hang up afterwards if the peer does not."""
        _check_sip_uri(target_uri)
        if self.state is not SipCallState.ANSWERED:
            raise RuntimeError(f"cannot transfer call {self.call_id}: it is {self.state}")
        if self._transfer is not None and not self._transfer.done():
            raise RuntimeError(f"call {self.call_id} already has a transfer in progress")
        self._transfer = self._loop.create_future()
        self._transfer_accepted = False
        self._trunk._bridge().call(self._leg_refer, target_uri)
        timeout = self._trunk.transfer_timeout
        try:
            return await asyncio.wait_for(asyncio.shield(self._transfer), timeout)
        except TimeoutError:
            return self._transfer_result(
                K.TRANSFER_FAILED, 408, f"no final NOTIFY within {timeout:g} s"
            )
        except asyncio.CancelledError:
            # the caller gave up waiting (its own timeout): forget this transfer, so a
            # late NOTIFY is ignored and a new transfer() may be tried
            if not self._transfer.done():
                self._transfer.cancel()
            raise

    async def play(self, prompt: Prompt, *, repeat: int = 1) -> None:
        """Send ``prompt`` over RTP at 20 ms a frame; returns when done or the call ends."""
        if self._rtp is None:
            raise RuntimeError("this trunk runs without media (media=False): cannot play")
        if self.state is not SipCallState.ANSWERED:
            raise RuntimeError(f"cannot play on call {self.call_id}: it is {self.state}")
        if self._rtp.remote is None:
            raise RuntimeError(f"call {self.call_id}: the callee's SDP gave no usable audio")
        await self._rtp.play(prompt, repeat=repeat)

    # --- extras for the engine and the CLI -------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    @property
    def rtp(self) -> RtpEndpoint | None:
        """The call's RTP endpoint (None without media): first-packet times for audits."""
        return self._rtp

    async def wait_finished(self, within: float | None = None) -> bool:
        """Wait until FAILED or ENDED; False if ``within`` seconds passed first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while not self.finished:
                    self._changed.clear()
                    await self._changed.wait()
        return self.finished

    # --- inside ----------------------------------------------------------------------

    def _earliest_cancel(self, *, explicit: bool) -> float:
        """Loop time before which no CANCEL may go out (the ring floor)."""
        floor = MIN_RING_S + RING_FLOOR_MARGIN_S
        if self.ring_started_at is not None:
            return self.ring_started_at + floor
        if explicit:
            return self._loop.time()
        return self.invite_at + self.ring_timeout + floor

    async def _wait_ring_floor(self) -> None:
        while self.state in UNANSWERED:
            delay = self._earliest_cancel(explicit=True) - self._loop.time()
            if delay <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), delay)

    def _arm_ring_timer(self) -> None:
        self._ring_timer = self._loop.call_at(
            self.invite_at + self.ring_timeout, self._ring_timer_fired
        )

    def _ring_timer_fired(self) -> None:
        self._ring_timer = None
        if self.state not in UNANSWERED or self._cancel_sent:
            return
        due = max(self.invite_at + self.ring_timeout, self._earliest_cancel(explicit=False))
        now = self._loop.time()
        if now < due:
            self._ring_timer = self._loop.call_at(due, self._ring_timer_fired)
            return
        self._send_cancel_or_bye("ring timeout")

    def _send_cancel_or_bye(self, why: str) -> None:
        now = self._loop.time()
        if self.state in UNANSWERED:
            if self._cancel_sent:
                return
            self._cancel_sent = True
            self.cancel_requested_at = now
            rang = None if self.ring_started_at is None else round(now - self.ring_started_at, 3)
            log.info("call_cancel", call_id=self.call_id, why=why, rang_s=rang)
            self._give_up_timer = self._loop.call_later(CANCEL_GIVE_UP_S, self._give_up)
        else:
            log.info("call_bye", call_id=self.call_id, why=why)
        self._trunk._bridge().call(self._leg_cancel_or_bye)

    def _give_up(self) -> None:
        """No final answer to the INVITE 32 s after our CANCEL: the call failed here."""
        self._give_up_timer = None
        if self.state in UNANSWERED:
            log.warning("call_cancel_unanswered", call_id=self.call_id, after_s=CANCEL_GIVE_UP_S)
            reason = f"no final answer to the INVITE within {CANCEL_GIVE_UP_S:g} s of the CANCEL"
            self._emit(TrunkEvent(K.FAILED, self._loop.time(), code=408, reason=reason))

    def _leg_cancel_or_bye(self) -> None:  # sippy thread
        if self.leg is not None:
            self.leg.cancel_or_bye()

    def _leg_refer(self, target_uri: str) -> None:  # sippy thread
        if self.leg is not None:
            self.leg.refer(target_uri)

    def _on_report(self, report: Any) -> None:
        """A LegReport from the sippy thread, on the loop now."""
        t = report.t + (self._loop.time() - time.monotonic())
        kind = report.kind
        if kind == "dead":
            return  # sippy released the dialog (32 s after the end); nothing to tell
        if kind == "refer_response":
            self._on_refer_response(report.code, report.reason, t)
            return
        if kind == "notify":
            self._on_notify(report.body, t)
            return
        if kind == "dtmf":
            if report.reason:
                self._emit(TrunkEvent(K.DTMF, t, digit=report.reason))
            return
        if kind == "fork_answered":
            event = TrunkEvent(K.FORK_ANSWERED, t, code=report.code, reason=report.reason)
            self.extra_answers.append(event)
            log.warning("call_fork_answered", call_id=self.call_id, state=str(self.state))
            self._emit(event)  # in the event stream only while the call is up
            return
        if kind == "remote_sdp":
            if report.body:
                self._use_remote_sdp(report.body)
            return
        event_kind = TrunkEventKind(kind)
        if kind in ("trying", "progress", "ringing", "early_media"):
            if event_kind in self._seen_provisional:
                return
            self._seen_provisional.add(event_kind)
            if kind in ("ringing", "early_media") and self.ring_started_at is None:
                self.ring_started_at = t  # the ring floor starts at a 180 or a 183 with SDP
        if kind in ("early_media", "answered") and report.body:
            self._use_remote_sdp(report.body)
        if kind == "ended" and self._transfer is not None and not self._transfer.done():
            self._transfer_result(
                K.TRANSFER_FAILED, None, "call ended before NOTIFY reported the outcome", t
            )
        self._emit(
            TrunkEvent(
                event_kind,
                t,
                code=report.code,
                reason=report.reason,
                by=report.by,
                retry_after=report.retry_after,
            )
        )

    def _use_remote_sdp(self, body: str) -> None:
        if self._rtp is None:
            return
        try:
            audio = parse_sdp(body)
            self._rtp.set_remote(audio.address, audio.port, audio.codec, audio.dtmf_payload_type)
        except (SdpError, ValueError) as e:
            log.warning("call_sdp_unusable", call_id=self.call_id, error=str(e))

    def _on_dtmf(self, digit: DtmfDigit) -> None:
        self._emit(TrunkEvent(K.DTMF, digit.t, digit=digit.digit))

    def _on_refer_response(self, code: int | None, reason: str | None, t: float) -> None:
        if self._transfer is None or self._transfer.done() or code is None:
            return
        if 200 <= code < 300:
            self._transfer_accepted = True
            log.debug("call_transfer_accepted", call_id=self.call_id, code=code)
        else:
            self._transfer_result(K.TRANSFER_FAILED, code, reason or "REFER refused", t)

    def _on_notify(self, body: str | None, t: float) -> None:
        if self._transfer is None or self._transfer.done():
            return
        m = _SIPFRAG_STATUS.search(body or "")
        if m is None:
            log.warning("call_notify_without_sipfrag", call_id=self.call_id)
            return
        code, reason = int(m.group(1)), m.group(2).strip()
        if code < 200:
            return
        kind = K.TRANSFERRED if code < 300 else K.TRANSFER_FAILED
        self._transfer_result(kind, code, reason, t)

    def _transfer_result(
        self, kind: TrunkEventKind, code: int | None, reason: str, t: float | None = None
    ) -> TrunkEvent:
        event = TrunkEvent(kind, self._loop.time() if t is None else t, code=code, reason=reason)
        if self._transfer is not None and not self._transfer.done():
            self._transfer.set_result(event)
            self._emit(event)
        log.info("call_transfer", call_id=self.call_id, result=str(kind), code=code, reason=reason)
        return event

    def _emit(self, event: TrunkEvent) -> None:
        next_state = TRANSITIONS[self.state].get(event.kind)
        if next_state is None:
            log.debug(
                "call_event_dropped",
                call_id=self.call_id,
                kind=str(event.kind),
                state=str(self.state),
            )
            return
        self.state = next_state
        self.history.append(event)
        self._queue.put_nowait(event)
        self._changed.set()
        if event.kind is K.ANSWERED:
            self.answered_at = event.t
        if next_state in TERMINAL:
            self._finish(event)

    def _finish(self, event: TrunkEvent) -> None:
        self.finished_at = event.t
        self.final_code = event.code
        self.final_reason = event.reason
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None
        if self._give_up_timer is not None:
            self._give_up_timer.cancel()
            self._give_up_timer = None
        if self._rtp is not None:
            self._closing = self._loop.create_task(self._rtp.close())
        self._trunk._forget(self)

        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.invite_at, 3)

        log.info(
            "call_finished",
            call_id=self.call_id,
            number=self.number,
            outcome=str(event.kind),
            code=event.code,
            reason=event.reason,
            by=event.by,
            ring_s=rel(self.ring_started_at),
            answer_s=rel(self.answered_at),
            cancel_s=rel(self.cancel_requested_at),
            end_s=rel(event.t),
        )


class SippyTrunk:
    """A SIP trunk over sippy (implements ``api.Trunk``).

    ``host:port`` is the trunk (or PBX); we listen on ``local_host:local_port`` (0 = any
    free port). ``username``/``password`` answer digest challenges (401/407) and, with
    ``register=True``, REGISTER on ``start()``. RTP ports come from ``rtp_ports``
    (inclusive). Beyond the contract: ``invite_timeout`` (timer B, RFC 3261 default
    32 s) bounds how long a silent trunk is waited for; ``media=False`` runs signalling
    only (an SDP offer is still sent, no RTP port is opened) for capacity tests;
    ``transfer_timeout`` bounds the wait for a REFER's final NOTIFY.
    """

    def __init__(
        self,
        host: str,
        port: int,
        local_host: str = "127.0.0.1",
        local_port: int = 0,
        username: str | None = None,
        password: str | None = None,
        register: bool = False,
        rtp_host: str = "127.0.0.1",
        rtp_ports: tuple[int, int] = (20000, 29999),
        *,
        invite_timeout: float = 32.0,
        media: bool = True,
        transfer_timeout: float = DEFAULT_TRANSFER_TIMEOUT_S,
        register_expires: int = 300,
    ) -> None:
        if not host:
            raise ValueError("trunk host is empty")
        if not 0 < port < 65536:
            raise ValueError(f"trunk port must be 1–65535, got {port}")
        if not 0 <= local_port < 65536:
            raise ValueError(f"local SIP port must be 0–65535, got {local_port}")
        lo, hi = rtp_ports
        if not 0 < lo <= hi < 65536:
            raise ValueError(f"RTP port range must be within 1–65535 and low ≤ high, got {lo}–{hi}")
        if register and not username:
            raise ValueError("register=True needs a username")
        if not (math.isfinite(invite_timeout) and 0 < invite_timeout <= 300):
            raise ValueError(f"invite_timeout must be in (0, 300] s, got {invite_timeout}")
        self.host, self.port = host, port
        self.local_host, self.local_port = local_host, local_port
        self.username, self.password = username, password
        self.register = register
        self.rtp_host, self.rtp_ports = rtp_host, (lo, hi)
        self.invite_timeout = invite_timeout
        self.media = media
        self.transfer_timeout = transfer_timeout
        self.register_expires = register_expires
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sippy: SippyThread | None = None
        self._stack: Any = None
        self._calls: dict[str, SippyCall] = {}
        self._stopping = False
        self.registered = False
        self._orphan_handler: Callable[[str], None] | None = None
        self.orphan_answers = 0  # answers to calls placed before a restart, hung up

    def on_orphan_answer(self, handler: Callable[[str], None]) -> None:
        self._orphan_handler = handler

    def _orphan(self, call_id: str, code: int) -> None:
        """On the loop: an answer to a call this process never placed (see sip.api)."""
        self.orphan_answers += 1
        if self._orphan_handler is not None:
            self._orphan_handler(call_id)

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the SIP socket (and REGISTER if asked); raises TrunkError on failure."""
        if self._stack is not None:
            return
        from dialguard.sip._sippy_stack import SignallingStack

        self._loop = asyncio.get_running_loop()
        self._sippy = sippy_thread()
        try:
            self._stack = await self._sippy.run(
                SignallingStack, self.local_host, self.local_port, self.invite_timeout
            )
        except OSError as e:
            raise TrunkError(
                f"cannot listen for SIP on {self.local_host}:{self.local_port}: {e}"
            ) from e
        self.local_port = self._stack.local_port
        loop = self._loop
        self._stack.tm.on_orphan = lambda call_id, code: loop.call_soon_threadsafe(
            self._orphan, call_id, code
        )
        self._stopping = False
        log.info(
            "trunk_started",
            trunk=f"{self.host}:{self.port}",
            local=f"{self._stack.local_host}:{self.local_port}",
        )
        if self.register:
            await self._register()

    async def _register(self) -> None:
        loop = self._require_loop()
        result: asyncio.Future[tuple[bool, str]] = loop.create_future()

        def on_result(ok: bool, status: str) -> None:  # sippy thread
            def settle() -> None:
                self.registered = ok
                if not result.done():
                    result.set_result((ok, status))
                log.info("trunk_register", ok=ok, status=status)

            loop.call_soon_threadsafe(settle)

        await self._bridge().run(
            self._stack.register,
            (self.host, self.port),
            self.username,
            self.password,
            self.register_expires,
            on_result,
        )
        try:
            ok, status = await asyncio.wait_for(result, REGISTER_TIMEOUT_S)
        except TimeoutError:
            await self.stop()
            raise TrunkError(
                f"REGISTER to {self.host}:{self.port}: no answer in {REGISTER_TIMEOUT_S:g} s"
            ) from None
        if not ok:
            await self.stop()
            raise TrunkError(f"REGISTER to {self.host}:{self.port} refused: {status}")

    async def stop(self) -> None:
        """Cancel (after the ring floor) or hang up every call, then close the socket."""
        if self._stack is None:
            return
        self._stopping = True
        calls = list(self._calls.values())
        if calls:
            log.info("trunk_stopping", calls=len(calls))
            await asyncio.gather(*(c.hangup() for c in calls), return_exceptions=True)
        # Let our last BYEs/CANCELs get their answers before the socket closes: a BYE
        # lost with the socket would leave the far end's call up.
        sippy = self._bridge()
        if self.register:
            sippy.call(self._stack.unregister)  # Expires: 0, answered within the drain
        loop = self._require_loop()
        drained: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not drained.done():
                drained.set_result(None)

        def idle() -> None:  # sippy thread
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(settle)

        sippy.call(self._stack.when_idle, idle, STOP_DRAIN_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drained, STOP_DRAIN_S)
        stack, self._stack = self._stack, None
        await sippy.run(stack.shutdown)
        log.info("trunk_stopped", left_open=sum(1 for c in calls if not c.finished))

    async def __aenter__(self) -> SippyTrunk:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def calls(self) -> list[SippyCall]:
        """Calls not finished yet."""
        return list(self._calls.values())

    # --- calls ------------------------------------------------------------------------

    async def originate(self, to: str, caller_id: str, ring_timeout: float) -> SippyCall:
        """Send an INVITE to ``to`` from ``caller_id`` and return the call at once."""
        _check_number(to, "number to call")
        _check_number(caller_id, "caller ID")
        if not (isinstance(ring_timeout, int | float) and math.isfinite(ring_timeout)):
            raise ValueError(f"ring_timeout must be a number of seconds, got {ring_timeout!r}")
        if ring_timeout <= 0:
            raise ValueError(f"ring_timeout must be > 0 s, got {ring_timeout}")
        if self._stack is None or self._stopping:
            raise TrunkError("trunk is not started (or is stopping): call start() first")
        loop = self._require_loop()
        rtp: RtpEndpoint | None = None
        if self.media:
            lo, hi = self.rtp_ports
            try:
                rtp = await RtpEndpoint.open(self.rtp_host, (lo, hi + 1))
            except OSError as e:
                raise TrunkError(f"no RTP port free for a new call: {e}") from e
            sdp_port = rtp.port
        else:
            sdp_port = self.rtp_ports[0]
        sdp = build_sdp(self.rtp_host, sdp_port)
        call_id = secrets.token_hex(16)
        call = SippyCall(self, call_id, to, caller_id, ring_timeout, rtp)
        self._calls[call_id] = call
        stack, trunk = self._stack, (self.host, self.port)
        sippy = self._bridge()

        def report(r: Any) -> None:  # sippy thread
            with contextlib.suppress(RuntimeError):  # loop closed: nobody to tell
                loop.call_soon_threadsafe(call._on_report, r)

        def start_leg() -> None:  # sippy thread
            from dialguard.sip._sippy_stack import Leg

            call.leg = Leg(
                stack,
                trunk,
                call_id,
                to,
                caller_id,
                sdp,
                report,
                sippy.monotonic_of,
                self.username,
                self.password,
            )
            call.leg.invite()

        call.invite_at = loop.time()
        sippy.call(start_leg)
        call._arm_ring_timer()
        log.info(
            "call_originated",
            call_id=call_id,
            number=to,
            caller_id=caller_id,
            ring_timeout=ring_timeout,
            trunk=f"{self.host}:{self.port}",
        )
        return call

    # --- inside ----------------------------------------------------------------------

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise TrunkError("trunk is not started: call start() first")
        return self._loop

    def _bridge(self) -> SippyThread:
        if self._sippy is None:
            raise TrunkError("trunk is not started: call start() first")
        return self._sippy

    def _forget(self, call: SippyCall) -> None:
        self._calls.pop(call.call_id, None)
