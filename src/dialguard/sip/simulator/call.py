"""One simulated callee: the SIP dialog seen from the called side, and how the person
behind it behaves.

Theory of operation. Each INVITE gets a :class:`SimCall` whose :meth:`SimCall.run`
coroutine is the callee's script — post-dial delay, ringing, then answer or refusal,
then the conversation — while the trunk feeds it the dialler's requests (ACK, CANCEL,
BYE, REFER) through the ``on_*`` methods. Dialog states, as data:

    ======== ============================== ==========================================
    state    entered when                    leaves on
    ======== ============================== ==========================================
    trying   INVITE received, 100 sent       180/183 → ringing; 4xx/6xx → failed
    ringing  180 (or 183 + SDP) sent         200 → answered; CANCEL/487, 480 → failed
    answered 200 sent (retransmitted)        ACK → confirmed; no ACK in 32 s → ended
    confirmed ACK received                   BYE either way → ended
    failed   final ≥ 300 sent (retransmitted) ACK or 32 s → ended
    ended    dialog over                     —
    ======== ============================== ==========================================

The person outlives the dialog after a transfer: once the agent has answered, the
dialler hangs up its leg but the callee and agent talk on for the sampled talk time, and
the record closes only then. Everything is timed on the loop clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from dialguard.logs import get_logger
from dialguard.sip.rtp import RtpEndpoint, RtpPacket
from dialguard.sip.sdp import AudioDescription, SdpError, build_answer, build_sdp, parse_sdp
from dialguard.sip.simulator import message as sip
from dialguard.sip.simulator.profile import FINAL_CODE, Forced, Outcome, Profile
from dialguard.sip.simulator.records import CallRecord

if TYPE_CHECKING:
    from dialguard.sip.simulator.trunk import SimTrunk

log = get_logger(__name__)

T1 = 0.5  # RFC 3261 timers
T2 = 4.0
TIMER_B = 64 * T1  # give up on an unacknowledged final / unanswered request

State = Literal["trying", "ringing", "answered", "confirmed", "failed", "ended"]
TRANSITIONS: dict[State, frozenset[State]] = {
    "trying": frozenset({"ringing", "answered", "failed", "ended"}),
    "ringing": frozenset({"answered", "failed", "ended"}),
    "answered": frozenset({"confirmed", "ended"}),
    "confirmed": frozenset({"ended"}),
    "failed": frozenset({"ended"}),
    "ended": frozenset(),
}


class SimCall:
    """The called side of one call: dialog state, media, and the callee's script."""

    def __init__(
        self,
        trunk: SimTrunk,
        invite: sip.SipMessage,
        source: tuple[str, int],
        number: str,
        outcome: Outcome,
        forced: Forced | None,
        rng: random.Random,
    ) -> None:
        self.trunk = trunk
        self.profile: Profile = trunk.profile
        self.loop = asyncio.get_running_loop()
        self.invite = invite
        self.source = source
        self.number = number
        self.outcome: Outcome = outcome
        self.forced = forced
        self.rng = rng
        self.call_id = invite.call_id
        self.local_tag = sip.new_tag()
        self.state: State = "trying"
        self.t_invite = self.loop.time()
        self.t_ring: float | None = None
        self.t_answer: float | None = None
        self.record = CallRecord(
            call_id=self.call_id,
            number=number,
            outcome=outcome,
            forced=forced is not None,
            invite_wall=trunk.wall_clock(),
        )
        self.last_response: bytes | None = None  # final/provisional to the INVITE
        self.rtp: RtpEndpoint | None = None
        self.local_sdp = b""
        self.remote_sdp: AudioDescription | None = None
        if invite.body:
            self.remote_sdp = parse_sdp(invite.body)  # SdpError → the trunk answers 488
            _ = self.remote_sdp.codec
        contact = invite.get("Contact")
        self.remote_target = sip.uri_of(contact) if contact else invite.uri or ""
        self.route_set = invite.get_all("Record-Route")
        self.local_cseq = random.randrange(1, 10000)
        self.agent_connected = asyncio.Event()
        self.audio_started = asyncio.Event()
        self.left_answered = asyncio.Event()  # the 2xx was ACKed, or the call ended
        self.last_audio_at: float | None = None
        self.transferred = False  # agent answered: the person now talks to the agent
        self.agent: str | None = None
        self.task: asyncio.Task[None] | None = None
        self._retransmit: asyncio.TimerHandle | None = None
        self._closed = False
        self._ack_timeout: asyncio.TimerHandle | None = None
        self._on_close: list[Callable[[SimCall], None]] = []

    # --- helpers ---

    def elapsed(self) -> float:
        return round(self.loop.time() - self.t_invite, 4)

    def _set_state(self, new: State) -> None:
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"call {self.call_id}: no transition {self.state} → {new}")
        self.state = new
        if new != "answered" and self.t_answer is not None:
            self.left_answered.set()

    def respond_invite(self, status: int, body: bytes = b"", reason: str | None = None) -> None:
        headers: list[tuple[str, str]] = []
        if status != 100:
            headers.append(("Contact", f"<{self.trunk.contact_uri(self.number)}>"))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        if status >= 200:
            headers.append(("Allow", "INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, OPTIONS"))
        msg = sip.response(
            self.invite,
            status,
            to_tag=self.local_tag if status > 100 else None,
            headers=headers,
            body=body,
            reason=reason,
        )
        data = msg.encode()
        self.last_response = data
        self.trunk.send(data, self.source)

    def _retransmit_until_ack(self, interval: float = T1) -> None:
        """Timer G: resend the final response, doubling up to T2, until ACK."""
        if self.state not in ("answered", "failed") or self.last_response is None:
            return
        self.trunk.send(self.last_response, self.source)
        self._retransmit = self.loop.call_later(
            min(interval * 2, T2), self._retransmit_until_ack, min(interval * 2, T2)
        )

    def _start_final_timers(self) -> None:
        self._retransmit = self.loop.call_later(T1, self._retransmit_until_ack, T1)
        self._ack_timeout = self.loop.call_later(TIMER_B, self._no_ack)

    def _stop_final_timers(self) -> None:
        for h in (self._retransmit, self._ack_timeout):
            if h is not None:
                h.cancel()
        self._retransmit = self._ack_timeout = None

    def _no_ack(self) -> None:
        self._stop_final_timers()
        if self.state == "answered":
            self.record.notes.append("no ACK for 200 OK within 32 s: hung up")
            self.record.final = "no_ack"
            self._stop_script()
            self.trunk.spawn(self.send_bye(), name=f"bye-{self.call_id}")
        elif self.state == "failed":
            self._set_state("ended")
            self.close(None, None)

    # --- the dialler's requests ---

    def on_invite_retransmission(self) -> None:
        if self.last_response is not None:
            self.trunk.send(self.last_response, self.source)

    def on_ack(self, ack: sip.SipMessage) -> None:
        if self.state == "answered":
            self._stop_final_timers()
            self._set_state("confirmed")
            if self.remote_sdp is None and ack.body:  # late offer: the answer is in the ACK
                try:
                    self._use_remote_sdp(parse_sdp(ack.body))
                except SdpError as e:
                    self.record.notes.append(f"bad SDP in ACK: {e}")
        elif self.state == "failed":
            self._stop_final_timers()
            self._set_state("ended")
            self.close(None, None)

    def on_cancel(self) -> bool:
        """CANCEL: stop ringing with 487. False if it came too late (already final)."""
        if self.state not in ("trying", "ringing"):
            return False
        now = self.loop.time()
        self.record.cancel_s = round(now - self.t_invite, 4)
        if self.t_ring is not None:
            self.record.ring_before_cancel_s = round(now - self.t_ring, 4)
        self._stop_script()
        self._fail(487, final="cancelled")
        return True

    def on_bye(self) -> None:
        """The dialler hung up. After a transfer the person talks on with the agent."""
        self._stop_final_timers()
        if self.state in ("trying", "ringing"):  # BYE in an early dialog ends the INVITE
            self._stop_script()
            self._fail(487, final="cancelled")
            return
        if self.state in ("answered", "confirmed"):
            self._set_state("ended")
        self.trunk.forget_dialog(self)
        if self.transferred:
            self.record.notes.append("dialler left after the transfer")
            return  # the talk timer in run() closes the record
        self._stop_script()
        self.close("answered" if self.t_answer is not None else None, "caller")

    def on_refer(self, refer: sip.SipMessage) -> int:
        """Blind transfer to an agent: 202 now, NOTIFY 100 then NOTIFY 200 (or 480)."""
        if self.state not in ("answered", "confirmed") or self.t_answer is None:
            return 481
        target = refer.get("Refer-To")
        if not target or not sip.uri_of(target).lower().startswith("sip"):
            return 400
        uri = sip.uri_of(target)
        now = self.loop.time()
        if self.record.answer_to_refer_s is None:
            self.record.answer_to_refer_s = round(now - self.t_answer, 4)
        self.record.transfer_target = uri
        self.trunk.spawn(self._transfer(uri, refer.cseq[0]), name=f"refer-{self.call_id}")
        return 202

    async def _transfer(self, uri: str, refer_cseq: int) -> None:
        agent = sip.uri_user(uri)
        event = f"refer;id={refer_cseq}"
        trying: asyncio.Task[int | None] | None = None
        if self.profile.notify_trying:  # sent now; the agent's answer does not wait for it
            trying = self.trunk.spawn(
                self.send_request(
                    "NOTIFY",
                    [("Event", event), ("Subscription-State", "active;expires=60")],
                    sipfrag="SIP/2.0 100 Trying",
                ),
                name=f"notify-{self.call_id}",
            )
        ok = self.trunk.agent_is_available(agent)
        await asyncio.sleep(self.profile.agent_answer_s.sample(self.rng))
        code = 200 if ok else 480
        if ok and self.t_answer is not None and not self._closed:
            self.transferred = True
            self.agent = agent
            self.record.answer_to_agent_s = round(self.loop.time() - self.t_answer, 4)
            self.agent_connected.set()
            self.trunk.agent_connected(agent, self)
        self.record.transfer_code = code
        if trying is not None:  # one NOTIFY in flight per subscription (RFC 6665)
            await trying
        if self.state in ("answered", "confirmed"):
            await self.send_request(
                "NOTIFY",
                [("Event", event), ("Subscription-State", "terminated;reason=noresource")],
                sipfrag=f"SIP/2.0 {code} {sip.REASONS[code]}",
            )

    # --- the callee's script ---

    async def run(self) -> None:
        try:
            await self._script()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug here must not take the trunk down
            log.exception("sim_call_failed", call_id=self.call_id, error=str(e))
            self.record.notes.append(f"simulator error: {e}")
            if self.state in ("trying", "ringing"):
                self._fail(500)
            self.close("error", "trunk")

    async def _script(self) -> None:
        p, rng, f = self.profile, self.rng, self.forced
        forced_ring = f.ring_s if f is not None else None
        if self.outcome in FINAL_CODE:
            code = (f.code if f and f.code else None) or FINAL_CODE[self.outcome]
            if (
                self.outcome == "unavailable"
                and f is None
                and rng.random() < p.unavailable_503_share
            ):
                code = 503
            delay = {
                "busy": p.busy_after_s,
                "unavailable": p.unavailable_after_s,
                "not_found": p.not_found_after_s,
                "decline": p.decline_after_s,
            }[self.outcome]
            wait = forced_ring if forced_ring is not None else p.post_dial_delay_s.sample(rng)
            if forced_ring is None:
                wait += delay.sample(rng)
            await asyncio.sleep(wait)
            if self.outcome == "decline":  # a person saw it ring and pressed reject
                await self._ring()
            self._fail(code)
            return
        if f is None:
            await asyncio.sleep(p.post_dial_delay_s.sample(rng))
        await self._ring()
        if self.outcome == "no_answer":
            await asyncio.sleep(p.max_ring_s)
            self.record.notes.append(f"nobody cancelled within {p.max_ring_s:g} s")
            self._fail(480)
            return
        ring_dist = p.ring_to_answer_s if self.outcome == "live" else p.voicemail_answer_s
        await asyncio.sleep(forced_ring if forced_ring is not None else ring_dist.sample(rng))
        await self._answer()
        await self._converse()

    async def _ring(self) -> None:
        """180 Ringing — or 183 Session Progress with our SDP when the profile (or the
        number) says the network gives early media; either starts the ring clock."""
        f = self.forced
        early = self.profile.early_media or (f is not None and f.early_media)
        body = await self._open_media() if early else None
        if self.state != "trying":
            return  # cancelled while the port was being bound
        self._set_state("ringing")
        self.t_ring = self.loop.time()
        self.record.ring_start_s = self.elapsed()
        if body is not None:
            self.record.early_media = True
            self.respond_invite(183, body)
        else:
            self.respond_invite(180)

    def _fail(self, code: int, final: str | None = None) -> None:
        self._set_state("failed")
        self.record.final_code = code
        self.record.final = final or {
            486: "busy",
            480: "unavailable",
            503: "unavailable",
            404: "not_found",
            603: "declined",
        }.get(code, f"failed_{code}")
        self.respond_invite(code)
        self._start_final_timers()

    async def _open_media(self) -> bytes:
        """Our RTP port and SDP (an answer to the offer, or an offer if there was none);
        opened once, shared by a 183 and the 200."""
        if self.rtp is None:
            self.rtp = await RtpEndpoint.open(
                self.trunk.host, self.trunk.rtp_port_range, on_audio=self._heard
            )
            if self.remote_sdp is not None:
                self._use_remote_sdp(self.remote_sdp)
                body = build_answer(self.remote_sdp, self.trunk.public_host, self.rtp.port)
            else:
                body = build_sdp(self.trunk.public_host, self.rtp.port)
            self.local_sdp = body.encode()
        return self.local_sdp

    async def _answer(self) -> None:
        body = await self._open_media()
        if self.state not in ("trying", "ringing"):
            return  # cancelled while the port was being bound
        self._set_state("answered")
        self.t_answer = self.loop.time()
        self.record.answer_s = self.elapsed()
        self.record.final_code = 200
        self.respond_invite(200, body)
        self._start_final_timers()

    def _use_remote_sdp(self, sdp: AudioDescription) -> None:
        self.remote_sdp = sdp
        if self.rtp is not None:
            self.rtp.set_remote(sdp.address, sdp.port, sdp.codec, sdp.dtmf_payload_type)

    def _heard(self, packet: RtpPacket) -> None:
        now = self.loop.time()
        self.last_audio_at = now
        if not self.audio_started.is_set() and self.t_answer is not None:
            self.record.answer_to_audio_s = round(now - self.t_answer, 4)
            self.audio_started.set()

    async def _converse(self) -> None:
        """After answer: wait for an agent or a message; hang up if neither comes."""
        p, rng = self.profile, self.rng
        speed = self.trunk.speedup
        patience = (
            p.patience_s.sample(rng)
            if self.outcome == "live"
            else p.voicemail_max_s.sample(rng) / speed
        )
        got = await _first_of(self.agent_connected, self.audio_started, within=patience)
        if got is None:
            self.record.notes.append("hung up: nobody there")
            await self._hang_up()
            return
        hearing = got is self.audio_started and not self.agent_connected.is_set()
        if hearing and await self._listen_to_message():
            return  # hung up after the message
        await self.agent_connected.wait()
        if self.outcome == "voicemail":
            talk = p.voicemail_talk_s.sample(rng) / speed
        else:
            talk = (
                self.forced.talk_s
                if self.forced is not None and self.forced.talk_s is not None
                else p.talk_s.sample(rng)
            ) / speed
        self.record.talk_s = round(talk, 3)
        await asyncio.sleep(talk)
        if self.state in ("answered", "confirmed"):
            await self._hang_up()  # the dialler kept its leg: end the call from our side
        else:
            self.close("answered", "callee")
        self.trunk.agent_released(self.agent or "", self)

    async def _listen_to_message(self) -> bool:
        """Hear the message; maybe press the opt-out key; hang up when it stops. Returns
        False if an agent connected meanwhile (the call goes on)."""
        p, rng = self.profile, self.rng
        opt_out = self.forced.opt_out if self.forced is not None else rng.random() < p.opt_out_share
        press_at = self.loop.time() + p.opt_out_after_s.sample(rng) if opt_out else None
        quiet = p.message_hangup_s.sample(rng)
        while True:
            if self.agent_connected.is_set():
                return False
            now = self.loop.time()
            if press_at is not None and now >= press_at and self.rtp is not None:
                press_at = None
                self.record.opted_out = True
                self.record.dtmf_sent_s = self.elapsed()
                with contextlib.suppress(RuntimeError):  # peer offered no telephone-event
                    await self.rtp.send_dtmf(p.opt_out_digit)
                continue
            if self.last_audio_at is not None and now - self.last_audio_at >= quiet:
                await self._hang_up()
                return True
            await asyncio.sleep(0.05)

    async def _hang_up(self) -> None:
        await self.send_bye()

    async def send_bye(self) -> None:
        # RFC 3261 §15: no BYE on a dialog whose 2xx is not yet ACKed; it keeps being
        # retransmitted until the ACK comes or the 32 s run out (then _no_ack ends it).
        if self.state == "answered":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.left_answered.wait(), TIMER_B)
        if self.state in ("answered", "confirmed"):
            self._stop_final_timers()
            self._set_state("ended")
            self.trunk.forget_dialog(self)
            self.close("answered", "callee")
            await self.send_request("BYE", [])
        else:
            self.close("answered", "callee")

    async def send_request(
        self, method: str, headers: list[tuple[str, str]], sipfrag: str | None = None
    ) -> int | None:
        """An in-dialog request from the callee's side; the final status, None on timeout."""
        self.local_cseq += 1
        to = self.invite.require("From")
        from_ = sip.response(self.invite, 200, to_tag=self.local_tag).require("To")
        hs: list[tuple[str, str]] = [
            ("Via", f"SIP/2.0/UDP {self.trunk.hostport};branch={sip.new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", from_),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.local_cseq} {method}"),
            ("Contact", f"<{self.trunk.contact_uri(self.number)}>"),
        ]
        hs += [("Route", r) for r in self.route_set]
        hs += headers
        body = b""
        if sipfrag is not None:
            hs.append(("Content-Type", "message/sipfrag;version=2.0"))
            body = (sipfrag + "\r\n").encode()
        msg = sip.SipMessage(method=method, uri=self.remote_target, headers=hs, body=body)
        return await self.trunk.send_request(msg, self.request_destination())

    def request_destination(self) -> tuple[str, int]:
        """The first Record-Route hop if the dialler's proxy asked to stay in the path,
        else the dialler's Contact; its source address if neither parses."""
        try:
            return sip.uri_hostport(self.route_set[0] if self.route_set else self.remote_target)
        except sip.SipParseError:
            return self.source

    # --- ending ---

    def _stop_script(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    def close(self, final: str | None, ended_by: str | None) -> None:
        """Close the record once (idempotent) and release media."""
        if self._closed:
            return
        self._closed = True
        self.record.close(final, self.loop.time() - self.t_invite, ended_by)
        if self.rtp is not None:
            self.rtp.close_now()
        self.trunk.record_closed(self)

    @property
    def closed(self) -> bool:
        return self._closed

    async def stop(self) -> None:
        """The simulator is shutting down: end this call on the wire and in the record."""
        self._stop_script()
        if self.state in ("trying", "ringing"):
            self._fail(503)
            self.record.final = "stopped"
            self._stop_final_timers()
        elif self.state in ("answered", "confirmed"):
            self.record.final = "stopped"
            self._stop_final_timers()
            self._set_state("ended")
            self.trunk.forget_dialog(self)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.send_request("BYE", []), 1.0)
        self._stop_final_timers()
        self.close("stopped", "trunk")


async def _first_of(*events: asyncio.Event, within: float) -> asyncio.Event | None:
    """The first of ``events`` to be set within ``within`` seconds, else None."""
    for e in events:
        if e.is_set():
            return e
    waiters = {asyncio.ensure_future(e.wait()): e for e in events}
    try:
        done, _ = await asyncio.wait(list(waiters), timeout=within, return_when="FIRST_COMPLETED")
    finally:
        for w in waiters:
            w.cancel()
    return next((waiters[w] for w in done), None)
