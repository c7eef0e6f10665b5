"""The SIP trunk simulator: a UDP SIP endpoint that answers a dialler like a population
of callees, plays the PBX for transfers, and records what each callee went through.

Why a small asyncio UAS of our own rather than sippy (which the adapter uses): the
simulator shares a process and an event loop with the code under test in integration
tests, and sippy runs one global reactor thread per process — two users of it in one
process would share timers and sockets. A test peer need only be correct for what a
dialler sends (INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, REGISTER over UDP), with the
RFC 3261 retransmission timers; in asyncio its timing is exact on the loop clock, which
is what its records measure. See docs/simulator.md.

Use::

    trunk = SimTrunk("S1", port=5070, seed=7)
    await trunk.start()
    ...                      # the dialler calls sip:<number>@127.0.0.1:5070
    print(trunk.summary())
    await trunk.stop()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import socket
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import IO, Any

from dialguard.logs import get_logger
from dialguard.sip.sdp import SdpError
from dialguard.sip.simulator import message as sip
from dialguard.sip.simulator.auth import DigestChallenger
from dialguard.sip.simulator.call import T1, T2, TIMER_B, SimCall
from dialguard.sip.simulator.profile import Profile, load_profile
from dialguard.sip.simulator.records import CallRecord, RecordWriter, Summary, Tally
from dialguard.tasks import TaskSet

log = get_logger(__name__)

DEFAULT_RTP_PORTS = (30000, 40000)
LINGER_S = TIMER_B
"""How long an ended call's Call-ID is remembered, to answer retransmissions."""

AgentHook = Callable[[str, str], None]
"""``hook(agent, call_id)``: the demo can mirror agent state from the PBX side."""


def _reachable_address(host: str) -> str:
    """For a wildcard listen address (Docker: 0.0.0.0) advertise this host's own
    address, so Contact and SDP name somewhere a peer can reach."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, trunk: SimTrunk) -> None:
        self._trunk = trunk

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._trunk._datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("sim_socket_error", error=str(exc))


class SimTrunk:
    """A simulated trunk on ``host:port`` (UDP). Calls to ``sip:<number>@host:port``
    behave as the profile says; :attr:`records` and :meth:`summary` say what happened.
    ``auth=(username, password)`` makes it challenge INVITE and REGISTER (digest)."""

    def __init__(
        self,
        profile: Profile | str | Path = "S1",
        *,
        host: str = "127.0.0.1",
        port: int = 5070,
        advertise: str | None = None,
        seed: int = 0,
        speedup: float = 1.0,
        records_path: Path | None = None,
        rtp_port_range: tuple[int, int] = DEFAULT_RTP_PORTS,
        available_agents: Iterable[str] = (),
        on_agent_connected: AgentHook | None = None,
        on_agent_released: AgentHook | None = None,
        keep_records: int | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        if not speedup > 0:
            raise ValueError(f"speedup must be > 0, got {speedup}")
        if keep_records is not None and keep_records < 1:
            raise ValueError(f"keep_records must be ≥ 1 or None (keep all), got {keep_records}")
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self._overloaded = False
        self._overload_retry_after: float | None = None
        self.overload_refusals = 0
        self.host = host
        self.port = port
        self.public_host = advertise or _reachable_address(host)
        """The address put in Via, Contact and SDP (``host`` unless that is a wildcard)."""
        self.seed = seed
        self.speedup = speedup
        self.records_path = records_path
        self.rtp_port_range = rtp_port_range
        self.on_agent_connected = on_agent_connected
        self.on_agent_released = on_agent_released
        self._available: set[str] = set(available_agents)
        self._transport: asyncio.DatagramTransport | None = None
        self._calls: dict[str, SimCall] = {}  # by Call-ID, until LINGER_S after the end
        self._open: dict[str, SimCall] = {}  # calls whose record is not closed yet
        self._records: deque[CallRecord] = deque(maxlen=keep_records)
        self._tally = Tally()  # every closed call, kept or not
        self._attempts: Counter[str] = Counter()
        self._pending: dict[str, asyncio.Future[int]] = {}  # our requests, by branch
        self._tasks = TaskSet("sim-trunk")
        self._timers: set[asyncio.TimerHandle] = set()
        self._records_file: IO[str] | None = None
        self._writer: RecordWriter | None = None
        self._stopping = False
        self._digest = DigestChallenger(*auth) if auth is not None else None
        self.challenges = 0  # 401s sent
        self.auth_failures = 0  # 403s sent for a wrong answer
        self._idle = asyncio.Event()
        self._idle.set()
        self.malformed = 0
        self._loss_rng = random.Random(f"{seed}:loss")
        self.lost_datagrams = 0  # dropped by the profile's sip_loss, both ways

    # --- lifecycle ---

    async def start(self) -> None:
        """Bind the UDP port (``port=0`` picks a free one; read :attr:`port` after)."""
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=(self.host, self.port)
            )
        except OSError as e:
            raise OSError(f"sim-trunk cannot listen on {self.host}:{self.port}: {e}") from e
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])
        if self.records_path is not None:
            self._records_file = self.records_path.open("w", encoding="utf-8")
            self._writer = RecordWriter(self._records_file)
        log.info(
            "sim_trunk_started", listen=self.hostport, profile=self.profile.name, seed=self.seed
        )

    async def stop(self) -> None:
        """End every call on the wire (503 if ringing, BYE if answered), close the records."""
        self._stopping = True
        calls = list(self._open.values())
        await asyncio.gather(*(c.stop() for c in calls), return_exceptions=True)
        await self._tasks.close()
        for h in self._timers:
            h.cancel()
        self._timers.clear()
        for fut in self._pending.values():
            fut.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._records_file is not None:
            self._records_file.close()
            self._records_file = None
        log.info("sim_trunk_stopped", **self.summary().as_dict())

    async def __aenter__(self) -> SimTrunk:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- public view ---

    @property
    def hostport(self) -> str:
        return f"{self.public_host}:{self.port}"

    @property
    def records(self) -> list[CallRecord]:
        """Calls in INVITE order — all of them, or the last ``keep_records``; open calls
        have ``final`` None."""
        return list(self._records)

    def summary(self) -> Summary:
        """Counts over every call served, including those no longer kept."""
        tally = self._tally.copy()
        for call in self._open.values():
            tally.add(call.record)
        return tally.summary()

    @property
    def active_calls(self) -> dict[str, SimCall]:
        """Calls whose record is still open, by Call-ID."""
        return dict(self._open)

    def set_agent_available(self, agent: str, available: bool = True) -> None:
        """PBX side: whether a REFER to ``sip:<agent>@…`` reaches someone (profile
        ``agents = "available"``; with ``"always"`` every agent answers)."""
        if available:
            self._available.add(agent)
        else:
            self._available.discard(agent)

    def agent_is_available(self, agent: str) -> bool:
        if not agent:
            return False
        return self.profile.agents == "always" or agent in self._available

    async def wait_idle(self, seconds: float) -> bool:
        """Wait until no call is open (records all closed); False after ``seconds``."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # --- used by SimCall ---

    def wall_clock(self) -> str:
        return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")

    def contact_uri(self, user: str) -> str:
        return f"sip:{user or 'sim'}@{self.hostport}"

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._transport is not None and not self._lost():
            self._transport.sendto(data, addr)

    def _lost(self) -> bool:
        """The profile's ``sip_loss``: is this datagram lost on the way?"""
        loss = self.profile.sip_loss
        if loss and self._loss_rng.random() < loss:
            self.lost_datagrams += 1
            return True
        return False

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name=name)

    async def send_request(self, msg: sip.SipMessage, dest: tuple[str, int]) -> int | None:
        """A non-INVITE client transaction: resend at T1, 2·T1 … T2 until a final
        response; its status, or None after 32 s (Timer F) or on stop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        self._pending[msg.branch] = fut
        data = msg.encode()
        interval, deadline = T1, loop.time() + TIMER_B
        try:
            while self._transport is not None:
                self.send(data, dest)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), min(interval, remaining))
                except TimeoutError:
                    interval = min(interval * 2, T2)
            return None
        except asyncio.CancelledError:
            if fut.cancelled():
                return None
            raise
        finally:
            self._pending.pop(msg.branch, None)

    def forget_dialog(self, call: SimCall) -> None:
        """Keep answering retransmissions for a while, then drop the Call-ID."""
        loop = asyncio.get_running_loop()

        def drop() -> None:
            if self._calls.get(call.call_id) is call:
                del self._calls[call.call_id]

        handle = loop.call_later(LINGER_S, drop)
        self._timers.add(handle)
        loop.call_later(LINGER_S + 0.1, self._timers.discard, handle)

    def record_closed(self, call: SimCall) -> None:
        self._open.pop(call.call_id, None)
        self._tally.add(call.record)
        if not self._open:
            self._idle.set()
        if call.state in ("failed", "ended"):
            self.forget_dialog(call)
        if self._writer is not None:
            self._writer.write(call.record)
        r = call.record
        log.info(
            "sim_call_ended",
            call_id=r.call_id,
            number=r.number,
            outcome=r.outcome,
            final=r.final,
            code=r.final_code,
            abandoned=r.abandoned,
        )

    def agent_connected(self, agent: str, call: SimCall) -> None:
        if self.on_agent_connected is not None:
            self.on_agent_connected(agent, call.call_id)

    def agent_released(self, agent: str, call: SimCall) -> None:
        if self.on_agent_released is not None and agent:
            self.on_agent_released(agent, call.call_id)

    # --- the wire ---

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # CRLF keep-alive
        if self._lost():
            return
        try:
            msg = sip.parse(data)
            if msg.is_request:
                self._request(msg, addr)
            else:
                self._response(msg)
        except sip.SipParseError as e:
            self.malformed += 1
            log.warning("sim_bad_sip", reason=str(e), peer=f"{addr[0]}:{addr[1]}")
        except Exception as e:  # a simulator bug must cost one message, not the trunk
            log.exception("sim_message_failed", error=str(e), peer=f"{addr[0]}:{addr[1]}")

    def _response(self, msg: sip.SipMessage) -> None:
        fut = self._pending.get(msg.branch)
        if fut is not None and not fut.done() and msg.status is not None and msg.status >= 200:
            fut.set_result(msg.status)

    def _reply(
        self,
        request: sip.SipMessage,
        addr: tuple[str, int],
        status: int,
        headers: list[tuple[str, str]] | None = None,
        reason: str | None = None,
    ) -> None:
        tag = None if request.to_tag else sip.new_tag()
        msg = sip.response(request, status, to_tag=tag, headers=headers, reason=reason)
        self.send(msg.encode(), addr)

    def _request(self, msg: sip.SipMessage, addr: tuple[str, int]) -> None:
        method = msg.method
        call = self._calls.get(msg.call_id)
        if method == "INVITE":
            if call is None:
                if self._authorised(msg, addr):
                    self._new_call(msg, addr)
            elif msg.branch == call.invite.branch:
                call.on_invite_retransmission()
            else:  # re-INVITEs (hold, session refresh) are not part of what we simulate
                self._reply(msg, addr, 488, reason="Re-INVITE Not Supported By Simulator")
        elif method == "ACK":
            if call is not None:
                call.on_ack(msg)
        elif method == "CANCEL":
            if call is None or msg.branch != call.invite.branch:
                self._reply(msg, addr, 481)
                return
            self._reply(msg, addr, 200)
            call.on_cancel()
        elif method in ("BYE", "REFER"):
            if call is None or msg.to_tag != call.local_tag:
                self._reply(msg, addr, 481)
            elif method == "BYE":
                self._reply(msg, addr, 200)
                if call.state != "ended" or call.transferred:
                    call.on_bye()
            else:
                status = call.on_refer(msg)
                contact = [("Contact", f"<{self.contact_uri(call.number)}>")]
                self._reply(msg, addr, status, headers=contact if status == 202 else None)
        elif method in ("OPTIONS", "NOTIFY", "INFO", "UPDATE"):
            self._reply(msg, addr, 200)
        elif method == "REGISTER":
            if not self._authorised(msg, addr):
                return
            reg: list[tuple[str, str]] = [("Expires", msg.get("Expires") or "3600")]
            if (reg_contact := msg.get("Contact")) is not None:
                reg.append(("Contact", reg_contact))
            self._reply(msg, addr, 200, headers=reg)
        else:
            self._reply(msg, addr, 501, reason="Not Implemented")

    def _authorised(self, request: sip.SipMessage, addr: tuple[str, int]) -> bool:
        """With credentials set: 401 with a challenge if the request has no answer to
        one, 403 if its answer is wrong. Without: everything is let in."""
        if self._digest is None:
            return True
        answer = request.get("Authorization") or request.get("Proxy-Authorization")
        if answer is None:
            self.challenges += 1
            challenge = [("WWW-Authenticate", self._digest.challenge())]
            self._reply(request, addr, 401, headers=challenge)
            return False
        problem = self._digest.check(request.method or "", answer)
        if problem is not None:
            self.auth_failures += 1
            log.warning("sim_auth_refused", reason=problem, call_id=request.call_id)
            self._reply(request, addr, 403, headers=[("Warning", f'399 sim "{problem}"')])
            return False
        return True

    def overload(self, on: bool, *, retry_after: float | None = None) -> None:
        """Shed load like a carrier in trouble: while on, every new INVITE gets 503
        Service Unavailable (with ``Retry-After`` when given) and no call record (no
        callee was ever reached). For trunk-health tests and demos."""
        self._overloaded = on
        self._overload_retry_after = retry_after
        log.info("sim_overload", on=on, retry_after=retry_after)

    def _new_call(self, invite: sip.SipMessage, addr: tuple[str, int]) -> None:
        if self._stopping:
            self._reply(invite, addr, 503)
            return
        if self._overloaded:
            self.overload_refusals += 1
            after = self._overload_retry_after
            hdr = [("Retry-After", f"{after:g}")] if after is not None else None
            self._reply(invite, addr, 503, headers=hdr)
            return
        number = sip.uri_user(invite.uri or "")
        forced = self.profile.forced_for(number)
        n = self._attempts[number]
        self._attempts[number] += 1
        rng = random.Random(f"{self.seed}:{number}:{n}")
        outcome = forced.outcome if forced is not None else self.profile.sample_outcome(rng)
        try:
            call = SimCall(self, invite, addr, number, outcome, forced, rng)
        except SdpError as e:
            log.warning("sim_bad_sdp", call_id=invite.call_id, reason=str(e))
            self._reply(invite, addr, 488, headers=[("Warning", f'399 sim "{e}"')])
            return
        self._calls[call.call_id] = call
        self._open[call.call_id] = call
        self._idle.clear()
        self._records.append(call.record)
        call.respond_invite(100)
        call.task = self.spawn(call.run(), name=f"callee-{call.call_id}")
        log.debug("sim_invite", call_id=call.call_id, number=number, outcome=outcome)
