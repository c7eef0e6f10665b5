"""The sippy side of the trunk adapter: one signalling stack per trunk, one leg per call.

Everything in this module runs in the sippy thread (see :mod:`._sippy_bridge`); nothing
here touches asyncio. A :class:`SignallingStack` owns a trunk's UDP socket and sippy
transaction manager; a :class:`Leg` drives one outbound INVITE dialog through sippy's
``UA`` and reports what happened as :class:`LegReport` values to a callback that the
asyncio side turns into :class:`~dialguard.sip.api.TrunkEvent` values.

What sippy does not do the way dialguard needs, and is adjusted here without forking it:

* ``;transport=UDP`` (upper case, as SIPp and some PBXs send in Contact) made sippy
  refuse to send in-dialog requests (BYE, REFER) to that target. Incoming datagrams are
  normalised to lower case before sippy parses them (:func:`normalise_transport`).
* sippy leaves NOTIFY unanswered and has no REFER that waits for the outcome; a
  :class:`_DialUA` answers NOTIFY 200 and reports its ``message/sipfrag`` status line,
  and :meth:`Leg.refer` sends a REFER whose final response is reported.
* sippy leaves UPDATE (session-timer refreshes) unanswered in a confirmed dialog, and
  re-INVITEs wait for the application's answer: both are answered 200 with our SDP.
  SIP INFO DTMF (``application/dtmf-relay``) is reported as a digit.
* Responses that arrive after our CANCEL (the 487, or a 200 that crossed it — which
  sippy ACKs and BYEs) produce no sippy event; ``_DialUA`` watches the state change and
  reports them.
* INVITE timer B (no response at all) is 64·T1 = 32 s by RFC 3261; a trunk may shorten
  it (``invite_timeout``), which the ``trunk test-call`` check and the tests use.
* One receiver thread per socket (sippy's default is three), so responses to one INVITE
  are handled in the order they arrived (a 180 and a 200 back to back stay in order).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import md5
from typing import Any, Literal

import sippy.SipTransactionManager as _sippy_tm_module
from sippy.CCEvents import (
    CCEventConnect,
    CCEventDisconnect,
    CCEventFail,
    CCEventInfo,
    CCEventPreConnect,
    CCEventRedirect,
    CCEventRing,
    CCEventTry,
    CCEventUpdate,
)
from sippy.MsgBody import MsgBody
from sippy.SipAddress import SipAddress
from sippy.SipAllow import SipAllow
from sippy.SipCallId import SipCallId
from sippy.SipConf import SipConf
from sippy.SipContact import SipContact
from sippy.SipExpires import SipExpires
from sippy.SipHeader import SipHeader
from sippy.SipReferredBy import SipReferredBy
from sippy.SipReferTo import SipReferTo
from sippy.SipRegistrationAgent import SipRegistrationAgent
from sippy.SipRequest import SipRequest
from sippy.SipResponse import SipResponse
from sippy.SipRoute import SipRoute
from sippy.SipTransactionManager import SipTransactionManager
from sippy.SipURL import SipURL
from sippy.Time.Timeout import Timeout
from sippy.UA import UA
from sippy.UacStateCancelling import UacStateCancelling
from sippy.UaStateConnected import UaStateConnected
from sippy.UaStateDead import UaStateDead
from sippy.Udp_server import Udp_server, Udp_server_opts

from dialguard import __version__
from dialguard.logs import get_logger, mask_number
from dialguard.sip.sdp import SdpError, build_answer, build_sdp, parse_sdp

log = get_logger(__name__)

USER_AGENT = f"dialguard/{__version__}"
RFC3261_TIMER_B_S = 32.0  # 64 × T1 (500 ms)

ReportKind = Literal[
    "trying",
    "progress",
    "ringing",
    "early_media",
    "answered",
    "failed",
    "ended",
    "refer_response",
    "notify",
    "remote_sdp",
    "dtmf",
    "dead",
    "fork_answered",
]

_NULL_TAG = "dialguard-null-to-tag"
"""Stand-in for the null To-tag of an RFC 2543 peer's 200 while sippy builds the dialog."""

_TRANSPORT_PARAM = re.compile(rb";transport=(udp|tcp|tls|sctp|wss|ws)\b", re.IGNORECASE)


def normalise_transport(data: bytes) -> bytes:
    """``;transport=UDP`` → ``;transport=udp`` everywhere in a SIP datagram.

    Transport parameter values are case-insensitive (RFC 3261 §19.1.4), but sippy 2.5
    compares them case-sensitively and then refuses to create a transaction towards an
    "unsupported transport: UDP". Lower-casing before the parse is exact and cheap.
    """
    if b";transport=" not in data.lower():
        return data
    return _TRANSPORT_PARAM.sub(lambda m: b";transport=" + m.group(1).lower(), data)


@dataclass(frozen=True, slots=True)
class LegReport:
    """One thing sippy saw on a leg; ``t`` is ``time.monotonic()`` when it arrived."""

    kind: ReportKind
    t: float
    code: int | None = None
    reason: str | None = None
    body: str | None = None  # SDP of 18x/200, or sipfrag of NOTIFY
    by: Literal["local", "remote"] | None = None
    retry_after: float | None = None  # a failure's Retry-After header, seconds


Reporter = Callable[[LegReport], None]
Clock = Callable[[Any], float]  # sippy MonoTime (or None = now) → time.monotonic() value


class _SingleWorkerOpts(Udp_server_opts):  # type: ignore[misc]
    """One sender and one receiver thread per socket: keeps each peer's datagrams in
    the order they arrived (sippy's default of three receivers can reorder a 180/200)."""

    nworkers = 1


class _DialguardTM(SipTransactionManager):  # type: ignore[misc]
    """sippy's transaction manager with two local adjustments (see module docstring)."""

    model_udp_server = (Udp_server, _SingleWorkerOpts)
    invite_timeout = RFC3261_TIMER_B_S
    on_sent: Callable[[bytes, float], None] | None = None
    on_orphan: Callable[[str, int], None] | None = None
    """Told (in the sippy thread) of each answer to an INVITE this process never sent:
    ``(Call-ID, status)``. The adapter hands it to the engine's loop."""

    legs: dict[str, Leg]
    orphans: dict[tuple[str, str], tuple[Any, Any]]  # (Call-ID, To-tag) → (ACK, next hop)

    def handleIncoming(self, data_in: Any, ra: Any, server: Any, rtime: Any) -> None:
        try:
            if isinstance(data_in, bytes):
                data_in = normalise_transport(data_in)
                if data_in.startswith(b"SIP/2.0 "):
                    if not _STATUS_LINE.match(data_in):
                        _unparsable(ra, data_in, "bad status line")
                        return
                    if data_in[8:9] == b"2" and self._forked_2xx(data_in, server, rtime):
                        return
                data_in.decode()  # sippy would raise (and print a traceback) on non-UTF-8
            super().handleIncoming(data_in, ra, server, rtime)
        except Exception as e:
            _unparsable(ra, data_in, f"{type(e).__name__}: {e}")

    def incomingResponse(self, msg: Any, t: Any, checksum: Any) -> None:
        """The ACK to a non-2xx final goes where the INVITE went (RFC 3261 §17.1.1.3).

        sippy routes it by the response's Contact and Record-Route, as for a 2xx; a 3xx
        always carries a Contact (the redirect target), so the ACK went to that target,
        the redirecting peer retransmitted its 302 for 32 s and the target got a stray
        ACK. dialguard never follows a redirect (the new number was never screened), so
        the headers are dropped from a ≥300 final before sippy sees it: the call fails
        with the 3xx code and the ACK goes back the way the INVITE came."""
        code = msg.getSCode()[0]
        if code >= 300:
            msg.delHFs("contact")
            msg.delHFs("record-route")
        super().incomingResponse(msg, t, checksum)

    def _forked_2xx(self, data: bytes, server: Any, rtime: Any) -> bool:
        """A 2xx to one of our INVITEs from a dialog other than the call's: ACK and BYE it.

        A forking proxy may pass on a 200 from each callee that answers (RFC 3261
        §13.2.2.4). sippy ends the INVITE transaction at the first 2xx and then drops
        every later one as "no transaction", so the second callee is never ACKed (its
        200 is retransmitted for 32 s) and left in silence. Retransmissions of a 2xx we
        already ACKed are left to sippy, which re-sends that ACK from its cache.
        """
        checksum = md5(data).digest()
        if checksum in self.l1rcache or checksum in self.l2rcache:
            return False
        try:
            resp = SipResponse(data.decode())
            call_id = str(resp.getHFBody("call-id"))
            method = resp.getHFBody("cseq").getCSeq()[1]
            tid = resp.getTId(True, True)
        except Exception:
            return False  # sippy's own parse reports it
        if method != "INVITE" or tid in self.tclient:
            return False
        leg = getattr(self, "legs", {}).get(call_id)
        if leg is None:
            return self._orphan_2xx(resp, call_id, server, checksum)
        resp.rtime = rtime
        return bool(leg.hang_up_fork(resp, server, checksum))

    def _orphan_2xx(self, resp: Any, call_id: str, server: Any, checksum: bytes) -> bool:
        """A 2xx to an INVITE no leg of ours sent: the answer to a call placed by the
        process before a crash (the socket is the same, the dialog state is gone).

        Someone answered and hears silence; ACK it (else the 200 is retransmitted for
        32 s) and BYE it at once, and tell the engine, whose records can then count the
        call as abandoned. Each retransmission of the 2xx gets the same ACK again."""
        tag = resp.getHFBody("to").getTag() or ""
        orphans = self.orphans
        known = orphans.get((call_id, tag))
        if known is not None:
            ack, target = known
            self.transmitMsg(server, ack, target[0], checksum)
            return True
        orphans[(call_id, tag)] = _ack_and_bye(self, resp, server, checksum)
        if len(orphans) > _ORPHANS_KEPT:
            orphans.pop(next(iter(orphans)))
        code = resp.getSCode()[0]
        log.warning("sip_orphan_answered", call_id=call_id, to_tag=tag, code=code)
        if self.on_orphan is not None:
            self.on_orphan(call_id, code)
        return True

    def newTransaction(self, msg: Any, *args: Any, **kwargs: Any) -> Any:
        t = super().newTransaction(msg, *args, **kwargs)
        if t.method == "INVITE" and self.invite_timeout != RFC3261_TIMER_B_S:
            if t.teB is not None:
                t.teB.cancel()
            t.teB = Timeout(self.timerB, self.invite_timeout, 1, t)
        return t


_STATUS_LINE = re.compile(rb"SIP/2\.0 [1-6][0-9][0-9] ")
_UNPARSABLE_LOGGED_IN_FULL = 10
_unparsable_count = 0


def _unparsable(source: Any, data: Any, why: str) -> None:
    """One datagram we cannot use, logged through dialguard's logger with numbers masked.

    sippy prints its tracebacks and the raw datagram (phone numbers and all) to stdout
    for every datagram it cannot parse, outside the log masking. Those reports are
    routed here instead (see ``_quiet_sippy_parse_reports``); after the first ten, one
    line in a hundred, so a flood of junk cannot flood the log either.
    """
    global _unparsable_count
    _unparsable_count += 1
    n = _unparsable_count
    if n > _UNPARSABLE_LOGGED_IN_FULL and n % 100:
        return
    text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    first = text.split("\n", 1)[0].strip()[:120]
    log.warning(
        "sip_datagram_unparsable",
        source=str(source),
        why=mask_number(why[:200]),
        first_line=mask_number(first),
        seen=n,
    )


def _quiet_sippy_parse_reports() -> None:
    """Send sippy's parse-failure reports (``dump_exception`` in its transaction
    manager, whose only callers there are the three "can't parse" paths) to
    :func:`_unparsable`. Module-wide on purpose: sippy has no hook for it, and every
    sippy stack in the process is ours."""

    def report(msg: str, f: Any = None, extra: Any = None) -> None:
        error = sys.exc_info()[1]
        why = msg if error is None else f"{msg}: {type(error).__name__}: {error}"
        _unparsable(msg.rsplit(" from ", 1)[-1].rstrip(":"), extra or "", why)

    _sippy_tm_module.dump_exception = report


class _NullSipLogger:
    """sippy writes every datagram to its logger; dialguard logs per call instead."""

    def write(self, *args: Any, **kwargs: Any) -> None:
        return None


class SignallingStack:
    """A trunk's UDP socket and transaction manager (create and use in the sippy thread)."""

    def __init__(self, local_host: str, local_port: int, invite_timeout: float) -> None:
        self.config: dict[str, Any] = {
            "_sip_address": local_host,
            "_sip_port": local_port,
            "_sip_logger": _NullSipLogger(),
        }
        _quiet_sippy_parse_reports()
        tm = _DialguardTM(self.config, _out_of_dialog)
        tm.invite_timeout = invite_timeout
        self.legs: dict[str, Leg] = {}
        tm.legs = self.legs
        tm.orphans = {}
        self.config["_sip_tm"] = tm
        self.tm = tm
        server = next(iter(tm.l4r.cache_l2s.values()))
        self.local_host, self.local_port = server.uopts.laddress[0], int(server.uopts.laddress[1])
        self.registration: _Registration | None = None

    def register(
        self,
        trunk: tuple[str, int],
        username: str,
        password: str | None,
        expires: int,
        on_result: Callable[[bool, str], None],
    ) -> None:
        """REGISTER ``username`` at the trunk (digest auth if challenged) and keep it
        refreshed; ``on_result(ok, status_line)`` after each final answer."""
        aor = SipURL(username=username, host=trunk[0], port=trunk[1])
        contact = SipURL(username=username, host=self.local_host, port=self.local_port)

        def ok(_when: Any, _contact: Any, _arg: Any) -> None:
            on_result(True, "200 OK")

        def fail(status: Any, _arg: Any) -> None:
            on_result(False, str(status))

        agent = _Registration(
            self.config,
            aor,
            contact,
            user=username,
            passw=password,
            exp=expires,
            rok_cb=ok,
            rfail_cb=fail,
            target=(trunk, "udp"),
        )
        self.registration = agent
        agent.doregister()

    def unregister(self) -> None:
        """Remove our binding (REGISTER with Expires: 0) and stop refreshing it."""
        if self.registration is not None:
            self.registration.unregister()
            self.registration = None

    def pending_client_transactions(self) -> int:
        """Requests of ours still waiting for a final response (BYE, CANCEL, INVITE…)."""
        return sum(1 for t in self.tm.tclient.values() if t.tid is not None and t.teB is not None)

    def when_idle(self, callback: Callable[[], None], within: float) -> None:
        """Call ``callback`` once no request of ours awaits a final response, or after
        ``within`` seconds, whichever comes first."""
        if within <= 0 or self.pending_client_transactions() == 0:
            callback()
        else:
            Timeout(self.when_idle, 0.05, 1, callback, within - 0.05)

    def shutdown(self) -> None:
        """Close the socket and stop every timer of this stack.

        sippy's own ``shutdown()`` also drops the transaction manager's tables, after
        which a UA timer still armed (a retransmission, a dialog's 32 s linger) crashes
        in the sippy thread; here the timers are cancelled and the tables kept.
        """
        if self.registration is not None:
            self.registration.stopregister()
            self.registration = None
        for leg in list(self.legs.values()):
            leg.abandon("BYE not answered before the trunk stopped")
        tm = self.tm
        for t in [*tm.tclient.values(), *tm.tserver.values()]:
            for name in ("teA", "teB", "teC", "teD", "teE", "teF", "teG"):
                timer = getattr(t, name, None)
                if timer is not None:
                    timer.cancel()
                    setattr(t, name, None)
        tm.tclient.clear()
        tm.tserver.clear()
        if tm.cp_timer is not None:
            tm.cp_timer.cancel()
            tm.cp_timer = None
        for server in tm.l4r.cache_l2s.values():
            _flush_sends(server, SEND_FLUSH_S)
        tm.l4r.shutdown()


SEND_FLUSH_S = 1.0
"""How long shutdown waits for datagrams already queued (an ACK, a BYE) to leave."""


def _flush_sends(server: Any, within: float) -> None:
    """Let the sender threads send everything queued before the socket is closed.

    sippy's ``Udp_server.shutdown()`` shuts the socket for writing *before* it tells
    its sender threads to stop, so a datagram still in the send queue is dropped: in
    CI the ACK to a 486 or 487, queued the moment the answer came in, was lost that
    way when the trunk stopped at once, and the far end retransmitted its answer for
    32 s. The stop marker sippy itself uses (``None``) is queued behind them here and
    the senders are joined; each sender passes the marker on, so sippy's own
    shutdown that follows finds them finished.
    """
    senders = getattr(server, "asenders", None) or []
    if not senders:
        return
    server.sendqueue.put(None)
    deadline = time.monotonic() + within
    for sender in senders:
        sender.join(max(0.0, deadline - time.monotonic()))
    if any(sender.is_alive() for sender in senders):
        log.warning("sip_send_queue_not_flushed", within_s=within)


REGISTER_REFRESH_MARGIN_S = 30.0
"""A binding is refreshed at half its lifetime, or this long before it lapses if that
comes later (a 3600 s binding is refreshed at 1800 s; a 40 s one at 20 s)."""


def refresh_after(granted_s: float) -> float:
    """Seconds after a 200 to REGISTER when the binding is refreshed: never at expiry."""
    return max(granted_s / 2, min(granted_s - REGISTER_REFRESH_MARGIN_S, granted_s * 0.9), 1.0)


class _Registration(SipRegistrationAgent):  # type: ignore[misc]
    """sippy's registration agent with what registrars need from us.

    sippy puts the lifetime only in a Contact parameter (no ``Expires`` header, which
    several registrars read instead), refreshes exactly at expiry (the binding lapses
    every cycle), answers a 407 with ``Authorization`` instead of
    ``Proxy-Authorization``, says ``User-Agent: Sippy`` and never removes its binding.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refresh: Any = None
        msg = self.rmsg
        msg.delHFs("user-agent")
        msg.appendHeader(SipHeader(name="user-agent", bodys=USER_AGENT))
        msg.appendHeader(SipHeader(name="expires", body=SipExpires(number=self.exp)))

    def gotreply(self, resp: Any) -> None:
        if self.dead or resp.scode < 200:
            return
        if 200 <= resp.scode < 300:
            granted: float = self.exp
            contact = resp.getHFBody("contact") if resp.countHFs("contact") > 0 else None
            if contact is not None and "expires" in contact.address.params:
                granted = int(contact.address.params["expires"])
            elif resp.countHFs("expires") > 0:
                granted = resp.getHFBody("expires").getNum()
            self._refresh = Timeout(self.doregister, refresh_after(granted))
            self.atries = 0
            if self.rok_cb is not None:
                self.rok_cb(None, contact, self.cb_arg)
            return
        if resp.scode == 407 and self.atries < 3 and resp.countHFs("proxy-authenticate"):
            challenge = resp.getHFBody("proxy-authenticate")
            supported, qop = challenge.supportedAlgorithm()
            if supported and self.user is not None and self.passw is not None:
                auth = challenge.genAuthHF(
                    self.user, self.passw, "REGISTER", str(self.rmsg.ruri), qop=qop
                )
                self.rmsg.delHFs("proxy-authorization")
                self.rmsg.appendHeader(SipHeader(name="proxy-authorization", body=auth))
                self.atries += 1
                self.doregister()
                return
        super().gotreply(resp)

    def unregister(self) -> None:
        """REGISTER with Expires: 0 (RFC 3261 §10.2.2), then stop for good."""
        if self.dead or self.rmsg is None:
            return
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        msg = self.rmsg
        msg.getHFBody("contact").address.params["expires"] = "0"
        msg.delHFs("expires")
        msg.appendHeader(SipHeader(name="expires", body=SipExpires(number=0)))
        self.global_config["_sip_tm"].newTransaction(msg, laddress=self.source_address)
        self.stopregister()

    def stopregister(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        super().stopregister()


class _DialUA(UA):  # type: ignore[misc]
    """sippy's UA, plus NOTIFY handling and reports for what happens after a CANCEL."""

    leg: Leg | None = None

    def recvRequest(self, req: Any, sip_t: Any) -> Any:
        method = req.getMethod()
        late_offer = method == "INVITE" and req.getBody() is None
        if not (method in ("NOTIFY", "UPDATE") or late_offer) or not self.isConnected():
            return super().recvRequest(req, sip_t)
        cseq = req.getHFBody("cseq").getCSeqNum()
        last = getattr(self, "rCSeq", None)
        if last is not None and last >= cseq:
            return (req.genResponse(500, "Server Internal Error"), None, None)
        self.rCSeq = cseq
        body = req.getBody()
        if late_offer:
            return self._answer_late_offer(req, sip_t)
        if method == "UPDATE":
            # A session refresh (RFC 4028) or media change: sippy does not answer UPDATE
            # in a confirmed dialog, and an unanswered refresh makes the trunk drop the
            # call. 200 OK, with our SDP if it sent an offer.
            answer = None
            if body is not None and self.leg is not None:
                answer = self.leg.answer_to(str(body))
            self.global_config["_sip_tm"].sendResponse(req.genResponse(200, "OK", answer))
            if self.leg is not None and body is not None:
                self.leg.report(LegReport("remote_sdp", self.leg.clock(req.rtime), body=str(body)))
            return None
        self.global_config["_sip_tm"].sendResponse(req.genResponse(200, "OK"))
        if self.leg is not None:
            self.leg.notify_received(None if body is None else str(body), req.rtime)
        return None

    def _answer_late_offer(self, req: Any, sip_t: Any) -> None:
        """A re-INVITE without SDP (late offer, RFC 3264 §5): our offer goes in the 200
        and the peer's answer comes in the ACK. sippy instead takes the peer's last SDP
        with its address set to 0.0.0.0 (a hold hack), so our RTP went nowhere."""
        offer = None if self.leg is None else self.leg.fresh_offer()
        resp = req.genResponse(200, "OK", offer, server=USER_AGENT)
        if self.lContact is not None:
            resp.appendHeader(SipHeader(name="contact", body=self.lContact.getCopy()))
        leg = self.leg

        def on_ack(ack: Any) -> None:
            answer = ack.getBody()
            if leg is None:
                return
            if answer is None:
                log.warning("sip_late_offer_ack_without_answer", call_id=leg.call_id)
                return
            leg.report(LegReport("remote_sdp", leg.clock(ack.rtime), body=str(answer)))

        self.global_config["_sip_tm"].sendResponse(resp, sip_t, ack_cb=on_ack)
        return None

    def recvResponse(self, resp: Any, tr: Any) -> Any:
        code = resp.getSCode()[0]
        if code >= 300 and self.leg is not None and resp.countHFs("retry-after") > 0:
            # sippy's failure event carries only code and reason; keep the trunk's
            # Retry-After (RFC 3261 §20.33) for the attempt's outcome.
            self.leg.retry_after = _retry_after(str(resp.getHFBody("retry-after")))
        to = resp.getHFBody("to")
        if (
            200 <= code < 300
            and to.getTag() is None
            and resp.getHFBody("cseq").getCSeq()[1] == "INVITE"
            and not self.isConnected()
        ):
            return self._accept_tagless_2xx(resp, tr, to)
        if code in (401, 407) and self.username is not None and not getattr(tr, "acked", False):
            # sippy re-sends the INVITE with credentials from inside this callback, i.e.
            # before the transaction layer ACKs the challenge. ACK first (RFC 3261
            # §17.1.1.3), then the new INVITE: handle it on the next turn of the loop.
            tr.acked = True
            Timeout(self.recvResponse, 0.0, 1, resp, tr)
            return None
        if self.leg is not None and isinstance(self.state, UacStateCancelling):
            code, reason = resp.getSCode()
            if code >= 200:
                self.leg.final_after_cancel(code, reason, resp.rtime)
            if 200 <= code < 300:
                # sippy would send its BYE from inside this callback, i.e. before the
                # transaction layer sends the ACK for this 200. ACK first, then BYE:
                # handle the 200 on the next turn of the loop.
                Timeout(super().recvResponse, 0.0, 1, resp, tr)
                return None
        return super().recvResponse(resp, tr)

    def _accept_tagless_2xx(self, resp: Any, tr: Any, to: Any) -> Any:
        """A 200 OK without To-tag: a person answered; keep the call, with a null tag.

        RFC 3261 §12.1.2: "A UAC MUST be prepared to receive a response without a tag in
        the To field, in which case the tag is considered to have a value of null" (RFC
        2543 did not require it). sippy instead reports it as a 502 failure and BYEs at
        once, hanging up on someone who answered. Give sippy a stand-in tag so it builds
        the dialog, then put the null tag back before the ACK is built (the transaction
        layer makes the ACK from this response after this callback) and in the dialog's
        remote URI, so the ACK and every later request carry no To-tag, as the peer
        expects.
        """
        to.setTag(_NULL_TAG)
        if self.leg is not None:
            self.leg.tagless_answer = True
        try:
            return super().recvResponse(resp, tr)
        finally:
            to.delTag()
            if self.rUri is not None and self.rUri.getTag() == _NULL_TAG:
                self.rUri.delTag()

    def newTransaction(self, req: Any, req_extra_headers: Any = None, **kwa: Any) -> Any:
        """Every in-dialog BYE and REFER goes through here (sippy's states and ours).

        sippy sends them fire-and-forget: a 401/407 is never answered with credentials
        (the carrier keeps the leg up, and billed) and nobody learns when the BYE was
        answered. Here each is watched: one retry with credentials on a challenge, then
        the final answer goes to the caller's callback and, for BYE, to the leg.
        """
        method = req.getMethod()
        if method not in ("BYE", "REFER"):
            return super().newTransaction(req, req_extra_headers, **kwa)
        user_cb = kwa.pop("resp_cb", None)
        kwa.pop("cb_ifver", None)

        def on_response(resp: Any, retried: bool = False) -> None:
            code = resp.getSCode()[0]
            if code < 200:
                return
            if (
                code in (401, 407)
                and not retried
                and self._retry_with_credentials(req, resp, on_response)
            ):
                return
            if user_cb is not None:
                user_cb(resp)
            if method == "BYE" and self.leg is not None:
                self.leg.bye_answered(resp)

        return super().newTransaction(req, req_extra_headers, resp_cb=on_response, **kwa)

    def _retry_with_credentials(self, req: Any, resp: Any, on_response: Any) -> bool:
        """Send ``req`` again (new CSeq, new branch) answering the challenge in ``resp``;
        False if we have no credentials or cannot answer it."""
        if self.username is None or self.password is None:
            return False
        name = "www-authenticate" if resp.getSCode()[0] == 401 else "proxy-authenticate"
        for challenge in resp.getHFBodys(name):
            supported, qop = challenge.supportedAlgorithm()
            if supported:
                break
        else:
            return False
        keep = [h.getCopy() for h in req.headers if h.name in ("refer-to", "referred-by")]
        again = self.genRequest(req.getMethod(), req.getBody(), (challenge, qop), keep)
        super().newTransaction(again, resp_cb=lambda r: on_response(r, retried=True))
        return True

    def changeState(self, newstate: Any) -> None:
        super().changeState(newstate)
        if self.leg is not None and newstate[0] is UaStateDead:
            self.leg.dead()


class Leg:
    """One outbound call as sippy sees it. Methods run in the sippy thread."""

    def __init__(
        self,
        stack: SignallingStack,
        trunk: tuple[str, int],
        call_id: str,
        number: str,
        caller_id: str,
        sdp: str | None,
        report: Reporter,
        clock: Clock,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.stack = stack
        self.call_id = call_id
        self.report = report
        self.clock = clock
        self.cancel_sent = False
        self.finished = False  # FAILED or ENDED reported
        self._refer_pending = False
        self._bye_pending = False  # our BYE sent, no final answer yet
        self.retry_after: float | None = None  # Retry-After of a failure response
        self.tagless_answer = False  # the 200 had no To-tag (accepted, RFC 3261 §12.1.2)
        self._forks: dict[str, Any] = {}  # To-tag of a dialog we ACK+BYEd → its ACK
        stack.legs[call_id] = self
        ua = _DialUA(
            stack.config,
            event_cb=self._on_event,
            username=username,
            password=password,
            nh_address=trunk,
        )
        ua.leg = self
        ua.local_ua = USER_AGENT
        ua.lContact = SipContact(
            address=SipAddress(
                url=SipURL(
                    username=caller_id,
                    host=SipConf.my_address,
                    port=SipConf.my_port,
                    transport=SipConf.my_transport,
                )
            )
        )
        self.ua = ua
        body = None if sdp is None else MsgBody(sdp)
        self._local_sdp = None if sdp is None else parse_sdp(sdp)
        origin = re.search(r"^o=\S+ (\d+) (\d+)", sdp or "", re.MULTILINE)
        self._sdp_session = int(origin.group(1)) if origin else 0
        self._sdp_version = int(origin.group(2)) if origin else 1
        self._try = CCEventTry((SipCallId(call_id), caller_id, number, body, None, None))

    # --- commands (from asyncio, through the bridge) ----------------------------------

    def invite(self) -> None:
        try:
            self.ua.recvEvent(self._try)
        except Exception as e:  # a bug or a bad address: fail the call, do not hang it
            self.finished = True
            self.report(LegReport("failed", self.clock(None), 500, f"INVITE not sent: {e}"))
            raise

    def cancel_or_bye(self) -> None:
        """CANCEL if not answered (sippy defers it until a provisional response, as RFC
        3261 §9.1 requires), BYE if answered; nothing if the call is already over."""
        if self.finished or self.ua.isDead():
            return
        self.cancel_sent = not self.ua.isConnected()
        self.ua.disconnect(origin="local")

    def refer(self, target_uri: str) -> None:
        """Send REFER (blind transfer); the final response is reported as
        ``refer_response``; NOTIFYs that follow are reported as ``notify``."""
        ua = self.ua
        if not isinstance(ua.state, UaStateConnected):
            self.report(LegReport("refer_response", self.clock(None), 481, "call not connected"))
            return
        req = ua.genRequest("REFER")
        req.appendHeader(
            SipHeader(name="refer-to", body=SipReferTo(address=SipAddress(url=SipURL(target_uri))))
        )
        req.appendHeader(
            SipHeader(
                name="referred-by",
                body=SipReferredBy(address=SipAddress(url=ua.lUri.getUrl().getCopy())),
            )
        )
        self._refer_pending = True
        ua.newTransaction(req, resp_cb=self._on_refer_response)

    # --- sippy callbacks --------------------------------------------------------------

    def _answer_update(self, offer: str | None) -> None:
        if self.ua.isDead() or self.finished:
            return
        self.ua.recvEvent(CCEventConnect((200, "OK", self.answer_to(offer))))

    def fresh_offer(self) -> Any:
        """Our offer again (same codecs, address and port), with the next o= version:
        what a late-offer re-INVITE asks for."""
        if self._local_sdp is None:
            return None
        self._sdp_version += 1
        return MsgBody(
            build_sdp(
                self._local_sdp.address,
                self._local_sdp.port,
                session_id=self._sdp_session,
                version=self._sdp_version,
            )
        )

    def answer_to(self, offer: str | None) -> Any:
        """Our SDP answer to a re-INVITE's or UPDATE's offer (RFC 3264 §6, §8): the
        offer's first codec we speak, its telephone-event, the matching direction (hold
        ``sendonly`` → ``recvonly``), our media address, and the next o= version. sippy
        answered with a copy of our first offer. Without a usable offer: that offer."""
        fallback = None if self.ua.lSDP is None else self.ua.lSDP.getCopy()
        if offer is None or self._local_sdp is None:
            return fallback
        try:
            remote = parse_sdp(offer)
            self._sdp_version += 1
            answer = build_answer(
                remote,
                self._local_sdp.address,
                self._local_sdp.port,
                session_id=self._sdp_session,
                version=self._sdp_version,
            )
        except SdpError as e:
            log.warning("sip_offer_unusable", call_id=self.call_id, error=str(e))
            return fallback
        return MsgBody(answer)

    def _on_refer_response(self, resp: Any) -> None:
        code, reason = resp.getSCode()
        if code < 200:
            return
        self._refer_pending = False
        self.report(LegReport("refer_response", self.clock(resp.rtime), code, reason))

    def notify_received(self, body: str | None, rtime: Any) -> None:
        self.report(LegReport("notify", self.clock(rtime), body=body))

    def final_after_cancel(self, code: int, reason: str, rtime: Any) -> None:
        t = self.clock(rtime)
        if 200 <= code < 300:
            # sippy ACKs it and sends BYE at once (UacStateCancelling): the callee
            # answered as we gave up. Say so: it is an answered call we hung up on.
            self.report(LegReport("answered", t, code, reason))
            self.report(
                LegReport("ended", t, code, "answered as we cancelled; BYE sent", by="local")
            )
        else:
            self.report(LegReport("failed", t, code, reason))
        self.finished = True

    def bye_answered(self, resp: Any) -> None:
        """The final answer to our BYE (or sippy's 408 when none came): the call ended."""
        self._bye_pending = False
        if self.finished:
            return
        self.finished = True
        code, reason = resp.getSCode()
        self.report(
            LegReport(
                "ended", self.clock(resp.rtime), code, f"BYE answered {code} {reason}", by="local"
            )
        )

    def abandon(self, why: str) -> None:
        """The stack is shutting down with our BYE unanswered: say the call ended."""
        if self._bye_pending and not self.finished:
            self.finished = True
            self.report(LegReport("ended", self.clock(None), None, why, by="local"))

    def dead(self) -> None:
        if not self.finished:
            # Gone without a final answer we saw (e.g. no response to a CANCELled
            # INVITE): nothing is left open on the wire.
            self.report(LegReport("failed", self.clock(None), 408, "no final response"))
            self.finished = True
        self.report(LegReport("dead", self.clock(None)))
        self.ua.leg = None
        if self.stack.legs.get(self.call_id) is self:
            del self.stack.legs[self.call_id]

    def hang_up_fork(self, resp: Any, server: Any, checksum: bytes) -> bool:
        """ACK, then BYE, a 2xx of a dialog that is not this call's (a forked answer).

        Returns False if the 2xx is this call's own dialog after all (sippy handles it).
        The ACK and the BYE carry the fork's To-tag, Contact and Record-Route set, as the
        dialog it created requires (RFC 3261 §12.1.2, §13.2.2.4); the ACK is cached
        against the 2xx so each retransmission of it is ACKed again.
        """
        tag = resp.getHFBody("to").getTag()
        ours = self.ua.rUri.getTag() if self.ua.rUri is not None else None
        if tag == ours and self.ua.isConnected():
            return False
        if tag in self._forks:  # the same fork's 2xx again, not byte for byte
            ack, target = self._forks[tag]
            self.stack.tm.transmitMsg(server, ack, target[0], checksum)
            return True
        self._forks[tag] = _ack_and_bye(self.stack.tm, resp, server, checksum)
        code, reason = resp.getSCode()
        log.warning("sip_fork_answered", call_id=self.call_id, to_tag=tag, code=code)
        self.report(
            LegReport(
                "fork_answered",
                self.clock(resp.rtime),
                code,
                f"{code} {reason} from a second callee (fork, To-tag {tag}): ACKed and BYEd",
            )
        )
        return True

    def _on_event(self, event: Any, ua: Any) -> None:
        t = self.clock(event.rtime)
        data = event.getData()
        if isinstance(event, CCEventRing):
            code, reason, body = data
            sdp = None if body is None else str(body)
            if code == 100:
                kind: ReportKind = "trying"
            elif sdp is not None:
                kind = "early_media"
            elif code == 180:
                kind = "ringing"
            else:
                # 181/182/183 without SDP: the call is progressing (forwarded, queued,
                # "session progress"), but no phone is ringing and no tone is heard:
                # not the start of the ring floor (RFC 3261 §21.1; issue 10).
                kind = "progress"
            self.report(LegReport(kind, t, code, reason, sdp))
        elif isinstance(event, CCEventConnect | CCEventPreConnect):
            code, reason, body = data[:3]
            if self.tagless_answer and code == 200:
                reason = f"{reason} (no To-tag: accepted as RFC 3261 §12.1.2 allows)"
            self.report(LegReport("answered", t, code, reason, None if body is None else str(body)))
        elif isinstance(event, CCEventFail | CCEventRedirect):
            code, reason = data[0], data[1]
            if self.cancel_sent:
                return  # our own CANCEL echoed back; the final answer comes separately
            self.finished = True
            self.report(LegReport("failed", t, code, reason, retry_after=self.retry_after))
        elif isinstance(event, CCEventInfo):
            # SIP INFO DTMF (application/dtmf-relay "Signal=5", or application/dtmf "5"),
            # which some trunks send instead of RFC 4733; sippy already answered 200.
            digit = _info_digit(None if data is None else str(data))
            if digit is not None:
                self.report(LegReport("dtmf", t, reason=digit))
        elif isinstance(event, CCEventUpdate):
            # The trunk re-INVITEs (session refresh, hold, new media address): take its
            # SDP and answer 200 with ours; sippy leaves the answer to us and a
            # re-INVITE left unanswered gets the call dropped by the far end.
            body = data
            self.report(LegReport("remote_sdp", t, body=None if body is None else str(body)))
            Timeout(self._answer_update, 0.0, 1, None if body is None else str(body))
        elif isinstance(event, CCEventDisconnect):
            if event.origin == "local":
                # CANCEL: wait for the INVITE's final response (487 or crossing 200).
                # BYE: the call has ended once the BYE is answered (bye_answered), not
                # when it is sent: a challenged or lost BYE leaves the leg up.
                self._bye_pending = not self.cancel_sent
            else:
                self.finished = True
                self.report(LegReport("ended", t, reason="BYE received", by="remote"))


def _out_of_dialog(req: Any, _t: Any) -> tuple[Any, None, None] | None:
    """Answer a request that belongs to none of our dialogs (sippy leaves it unanswered).

    Unanswered, a registrar's OPTIONS keep-alive marks us dead and a stray INVITE is
    retransmitted for 32 s. OPTIONS: 200 (RFC 3261 §11). A new INVITE: 403, dialguard
    takes no inbound calls. Anything with a To-tag (a dialog we no longer know), and
    BYE/NOTIFY/INFO/UPDATE/REFER: 481. Other methods: 405. ACK has no response.
    """
    method = req.getMethod()
    if method == "ACK":
        return None
    if method == "OPTIONS":
        resp = req.genResponse(200, "OK", server=USER_AGENT)
        resp.appendHeader(SipHeader(name="allow", body=SipAllow(methods=_ALLOW)))
    elif req.getHFBody("to").getTag() is not None or method in _IN_DIALOG_ONLY:
        resp = req.genResponse(481, "Call/Transaction Does Not Exist", server=USER_AGENT)
    elif method == "INVITE":
        resp = req.genResponse(403, "Forbidden (no inbound calls)", server=USER_AGENT)
    else:
        resp = req.genResponse(405, "Method Not Allowed", server=USER_AGENT)
        resp.appendHeader(SipHeader(name="allow", body=SipAllow(methods=_ALLOW)))
    return (resp, None, None)


_ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REFER", "NOTIFY", "INFO", "UPDATE")
_IN_DIALOG_ONLY = frozenset({"BYE", "NOTIFY", "INFO", "UPDATE", "REFER", "PRACK"})


_ORPHANS_KEPT = 256
"""Orphaned answers remembered for their retransmissions (each lasts 32 s at most)."""


def _ack_and_bye(tm: Any, resp: Any, server: Any, checksum: bytes) -> tuple[Any, Any]:
    """ACK a 2xx of a dialog we do not keep, then BYE it; the ACK and its next hop.

    Both carry the dialog's To-tag, Contact and Record-Route set, as the dialog the 2xx
    created requires (RFC 3261 §12.1.2, §13.2.2.4); the ACK is sent against the 2xx's
    checksum so sippy's cache re-sends it for each byte-identical retransmission."""
    ruri, routes, target = _dialog_route(resp)
    cseq = resp.getHFBody("cseq").getCSeqNum()
    common = {
        "ruri": ruri,
        "to": resp.getHFBody("to").getCopy(),
        "fr0m": resp.getHFBody("from").getCopy(),
        "callid": resp.getHFBody("call-id").getCopy(),
        "routes": routes,
        "target": target,
        "user_agent": USER_AGENT,
    }
    ack = SipRequest(method="ACK", cseq=cseq, **common)
    tm.transmitMsg(server, ack, target[0], checksum)
    tm.newTransaction(SipRequest(method="BYE", cseq=cseq + 1, **common))
    return ack, target


def _dialog_route(resp: Any) -> tuple[Any, list[Any], Any]:
    """Request-URI, Route set and next hop of the dialog a 2xx creates (RFC 3261 §12.1.2
    and §12.2.1.1): the Contact is the target, the Record-Route reversed the route set;
    a strict router (no ``;lr``) becomes the Request-URI and the target goes last."""
    if resp.countHFs("contact") > 0:
        ruri = resp.getHFBody("contact").getUrl().getCopy()
    else:
        ruri = resp.getHFBody("to").getUrl().getCopy()
    routes = [x.getCopy() for x in resp.getHFBodys("record-route")]
    routes.reverse()
    if not routes:
        return ruri, routes, ruri.getTAddr()
    if routes[0].getUrl().lr:
        return ruri, routes, routes[0].getTAddr()
    routes.append(SipRoute(address=SipAddress(url=ruri)))
    first = routes.pop(0).getUrl().getCopy()
    return first, routes, first.getTAddr()


def _retry_after(value: str) -> float | None:
    """Seconds of a Retry-After value (``120``, ``120 (overloaded)``, ``120;duration=60``)."""
    m = re.match(r"\s*(\d{1,9})", value)
    return None if m is None else float(m.group(1))


_INFO_SIGNAL = re.compile(r"^\s*(?:Signal\s*=\s*)?([0-9*#A-D])\s*$", re.MULTILINE | re.IGNORECASE)


def _info_digit(body: str | None) -> str | None:
    """The digit of a SIP INFO DTMF body: ``Signal=5`` (dtmf-relay) or a bare ``5``."""
    m = _INFO_SIGNAL.search(body or "")
    return None if m is None else m.group(1).upper()
