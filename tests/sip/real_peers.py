"""Kamailio and baresip as real peers on 127.0.0.1, for the interop suite (issue 10).

SIPp plays what a scenario says; these are independent implementations that decide for
themselves, so they catch what our own scenarios would not. Each peer runs in the
foreground from a config written into the test's tmp dir (no system paths, no root),
is ready only once it answers an OPTIONS on its port, and is killed at teardown.

Kamailio is a record-routing proxy whose behaviour is chosen by the dialled number's
last digits (see ``KAMAILIO_CFG``): ``...486``, ``...404`` and ``...503`` are rejected
statelessly, ``...407`` is challenged before it is relayed (and so are BYE and REFER
from a caller ID ending in 407), ``...2`` is forked to callees A and B, ``...0`` goes
to the callee that only rings, anything else to A. It is also the registrar (digest
401) and pings registered contacts with OPTIONS every second (usrloc keepalives).
baresip auto-answers and sends a 440 Hz sine (``ausine``), so RTP reaches us without a
sound card.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from tests.sip.sipp import free_udp_port

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
KAMAILIO_MODULES = next(
    iter(sorted(Path("/usr/lib").glob("*/kamailio/modules"))),  # Debian's multiarch dir
    Path("/usr/lib/x86_64-linux-gnu/kamailio/modules"),
)
BARESIP_MODULES = Path("/usr/lib/baresip/modules")

_RTP_FROM = re.compile(r"incoming rtp for 'audio' established, receiving from [\d.]+:(\d+)")
_CLOSED = re.compile(r"session closed: (.*)")

AUTH_USER = "dialer"
AUTH_PASSWORD = "s3cret"
RETRY_AFTER_S = 30

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
alias="127.0.0.1:{port}"
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "auth.so"
loadmodule "xlog.so"
loadmodule "corex.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)
modparam("usrloc", "ka_mode", 1)
modparam("usrloc", "ka_loglevel", 1)
modparam("usrloc", "ka_logmsg", "interop: keepalive OPTIONS answered by $sas")
modparam("usrloc", "timer_interval", 1)
modparam("rr", "enable_full_lr", 1)
modparam("auth", "secret", "dialguard-interop")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{
            if (is_method("BYE|REFER") && $fU =~ "407$") {{
                if (!pv_proxy_authenticate("$fd", "{password}", "0") || $au != "{user}") {{
                    xlog("L_NOTICE", "interop: challenging $rm cseq=$cs au=$au\n");
                    proxy_challenge("$fd", "1");
                    exit;
                }}
                xlog("L_NOTICE", "interop: authenticated $rm with $hdr(Proxy-Authorization)\n");
                consume_credentials();
            }}
            xlog("L_NOTICE", "interop: in-dialog $rm loose-routed to $ru\n");
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (is_method("OPTIONS") && $rU == $null) {{ sl_send_reply("200", "Kamailio up"); exit; }}
    if (is_method("REGISTER")) {{
        if (!pv_www_authenticate("$td", "{password}", "0") || $au != "{user}") {{
            xlog("L_NOTICE", "interop: challenging $rm cseq=$cs au=$au\n");
            www_challenge("$td", "1");
            exit;
        }}
        consume_credentials();
        xlog("L_NOTICE", "interop: REGISTER expires=$hdr(Expires) contact=$ct\n");
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    t_check_trans();
    if ($rU =~ "486$") {{ sl_send_reply("486", "Busy Here"); exit; }}
    if ($rU =~ "404$") {{ sl_send_reply("404", "Not Found"); exit; }}
    if ($rU =~ "503$") {{
        append_to_reply("Retry-After: {retry_after}\\r\\n");
        sl_send_reply("503", "Service Unavailable");
        exit;
    }}
    # pv_proxy_authenticate flag 0: the password is plain text (1 would mean it is HA1);
    # proxy_challenge flag 1: the challenge asks for qop=auth, as carriers do.
    if ($rU =~ "407$" && is_method("INVITE")) {{
        if (!pv_proxy_authenticate("$fd", "{password}", "0") || $au != "{user}") {{
            xlog("L_NOTICE", "interop: challenging $rm cseq=$cs au=$au\n");
            proxy_challenge("$fd", "1");
            exit;
        }}
        xlog("L_NOTICE", "interop: authenticated $rm with $hdr(Proxy-Authorization)\n");
        consume_credentials();
    }}
    record_route();
    $var(number) = $rU;
    $ru = "sip:callee@127.0.0.1:{callee_a}";
    if ($var(number) =~ "0$") {{ $ru = "sip:callee@127.0.0.1:{callee_ring}"; }}
    if ($var(number) =~ "2$") {{ append_branch("sip:callee@127.0.0.1:{callee_b}"); }}
    if (!t_relay()) {{ sl_reply_error(); }}
    exit;
}}
"""

BARESIP_CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{port}
sip_trans_def udp
net_interface 127.0.0.1
audio_source ausine,440
audio_alert ausine,440
ausrc_srate 48000
ausrc_channels 2
rtp_ports {rtp_lo}-{rtp_hi}
module_path {modules}
module g711.so
module ausine.so
module_app account.so
module_app menu.so
module cons.so
cons_listen 127.0.0.1:{cons_port}
"""


def sip_options_answered(port: int, timeout: float = 0.3) -> bool:
    """True once something on 127.0.0.1:``port`` answers an out-of-dialog OPTIONS."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        ours = s.getsockname()[1]
        call_id = uuid.uuid4().hex
        msg = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{ours};branch=z9hG4bK{call_id[:16]};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1:{ours}>;tag=probe\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            s.sendto(msg.encode(), ("127.0.0.1", port))
            data = s.recv(4096)
        except OSError:  # timeout, or ICMP port unreachable
            return False
        return data.startswith(b"SIP/2.0 ")


class Peer:
    """One peer process: started from a command line, ready when OPTIONS is answered,
    killed (whole process group: Kamailio forks helpers) at ``stop()``."""

    name = "peer"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def pick_ports(self) -> None:
        """Choose free loopback ports and write the config for them."""
        self.port = free_udp_port()

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, ready_within: float = 10.0, attempts: int = 3) -> Peer:
        """Start and wait until ready. A free port can be taken by someone else between
        our probe and the peer's bind: an early exit is retried on new ports."""
        for attempt in range(1, attempts + 1):
            self.pick_ports()
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    self.command(),
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + ready_within
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if sip_options_answered(self.port):
                    return self
                time.sleep(0.1)
            else:
                self.stop()
                raise RuntimeError(f"{self.name} not answering on {self.port}:\n{self.log()}")
            self.stop()  # exited: its helpers too
            if attempt == attempts:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(3)
        with contextlib.suppress(ProcessLookupError):  # Kamailio's children, a stuck peer
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(3)

    def log(self) -> str:
        return self.full_log()[-6000:]

    def lines(self, marker: str) -> list[str]:
        """Log lines containing ``marker`` (the configs log what tests check as
        ``interop: ...``)."""
        return [line for line in self.full_log().splitlines() if marker in line]

    def full_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Baresip(Peer):
    """baresip 1.x as an auto-answering callee with a sine-wave source and no player."""

    name = "baresip"

    def __init__(self, workdir: Path, rtp_ports: tuple[int, int], answer: str = "auto") -> None:
        super().__init__(workdir)
        self.rtp_ports = rtp_ports
        self.cons_port = 0
        (workdir / "accounts").write_text(
            f"<sip:callee@127.0.0.1>;regint=0;answermode={answer};audio_codecs=PCMU,PCMA\n"
        )
        (workdir / "contacts").write_text("")

    def pick_ports(self) -> None:
        super().pick_ports()
        self.cons_port = free_udp_port()
        (self.workdir / "config").write_text(
            BARESIP_CONFIG.format(
                port=self.port,
                rtp_lo=self.rtp_ports[0],
                rtp_hi=self.rtp_ports[1],
                modules=BARESIP_MODULES,
                cons_port=self.cons_port,
            )
        )

    def press(self, keys: str) -> None:
        """Type ``keys`` on baresip's UDP console (``cons``): in a call, the menu sends
        each digit as DTMF (RFC 4733 when telephone-event was negotiated)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for key in keys:
                s.sendto(key.encode(), ("127.0.0.1", self.cons_port))
                time.sleep(0.2)

    def rtp_sources(self) -> list[int]:
        """Ports baresip logged RTP arriving from ("incoming rtp ... established")."""
        return [int(p) for p in _RTP_FROM.findall(self.full_log())]

    def answered(self) -> int:
        """How many calls baresip answered with 200."""
        return self.full_log().count(" with 200")

    def closed(self) -> list[str]:
        """Why each of its sessions closed, as baresip logged it."""
        return _CLOSED.findall(self.full_log())

    def command(self) -> list[str]:
        return [BARESIP, "-f", str(self.workdir), "-v"]


class Kamailio(Peer):
    """Kamailio 5.x as a record-routing proxy in front of the baresips (A, B, ringing)."""

    name = "kamailio"

    def __init__(self, workdir: Path, callee_a: int, callee_b: int, callee_ring: int) -> None:
        super().__init__(workdir)
        self.cfg = workdir / "kamailio.cfg"
        self.callees = (callee_a, callee_b, callee_ring)

    def pick_ports(self) -> None:
        super().pick_ports()
        callee_a, callee_b, callee_ring = self.callees
        self.cfg.write_text(
            KAMAILIO_CFG.format(
                port=self.port,
                modules=KAMAILIO_MODULES,
                callee_a=callee_a,
                callee_b=callee_b,
                callee_ring=callee_ring,
                user=AUTH_USER,
                password=AUTH_PASSWORD,
                retry_after=RETRY_AFTER_S,
            )
        )

    def command(self) -> list[str]:
        return [
            KAMAILIO,
            "-f", str(self.cfg),
            "-DD", "-E",
            "-m", "32", "-M", "4",
            "-P", str(self.workdir / "kamailio.pid"),
            "-Y", str(self.workdir),
            "-w", str(self.workdir),
        ]  # fmt: skip
