"""Capacity of the SIP trunk adapter: call attempts/s, concurrent calls, CPU, INVITE latency.

SIPp plays the trunk (tests/sip/scenarios/bench_answer_hold.xml: 100, 180, 1 s of
ringing, 200, then it waits for our BYE). This script places ``--rate`` calls a second
for ``--duration`` seconds through :class:`dialguard.sip.SippyTrunk` (signalling only,
``media=False``), holds each answered call ``--hold`` seconds and hangs up, so about
``rate × (1 + hold)`` dialogs are up at once. It reports:

* attempts/s actually placed, peak concurrent answered calls, calls that did not end as
  planned (answered → ended by us), and SIPp's own failed-call and unexpected-message
  counters (``-trace_stat``): "zero protocol errors" means all of these are zero;
* CPU seconds of this process (all threads: asyncio and sippy) per wall second;
* latency from ``originate()`` to the INVITE on the wire, measured on the wire: a
  separate sniffer process reads loopback with a raw packet socket and kernel receive
  timestamps (needs root / CAP_NET_RAW), matched to our ``time.time()`` at the call to
  ``originate()`` by Call-ID.

Bounded: duration + hold + 20 s at most (``--duration`` ≤ 60, ``--hold`` ≤ 30).

    .venv/bin/python bench/sip_capacity.py --rate 60 --duration 20 --hold 9
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dialguard.logs import configure_logging
from dialguard.sip import SippyCall, SippyTrunk, TrunkEventKind

SCENARIO = Path(__file__).resolve().parent.parent / "tests/sip/scenarios/bench_answer_hold.xml"

SNIFFER = r"""
import socket, struct, sys, time
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value; Python may not export it
port = int(sys.argv[1]); out = open(sys.argv[2], "w", buffering=1)
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.ntohs(0x0800))
s.bind(("lo", 0))
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
seen = set()
print("ready", flush=True)
while True:
    data, anc, _flags, addr = s.recvmsg(65535, 64)
    if addr[2] == socket.PACKET_OUTGOING:  # lo shows each packet twice: keep the inbound copy
        continue
    ihl = (data[0] & 15) * 4
    if data[9] != 17 or len(data) < ihl + 8:
        continue
    dport = struct.unpack_from("!H", data, ihl + 2)[0]
    payload = data[ihl + 8:]
    if dport != port or not payload.startswith(b"INVITE "):
        continue
    t = time.time()
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16]); t = sec + nsec / 1e9
    i = payload.find(b"\r\nCall-ID: ")
    if i < 0:
        continue
    cid = payload[i + 11: payload.find(b"\r\n", i + 11)].decode()
    if cid in seen:
        continue  # a retransmission: the first copy is the one that counts
    seen.add(cid)
    out.write(f"{cid} {t:.6f}\n")
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_sipp(
    port: int, calls: int, timeout_s: float, stats: Path, workdir: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            shutil.which("sipp") or "sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1",
            "-p", str(port), "-m", str(calls), "-timeout", f"{timeout_s:g}s",
            "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
            "-trace_err", "-error_file", str(workdir / "sipp_errors.log"),
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
    )  # fmt: skip


def start_sniffer(port: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SNIFFER, str(port), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    # Log every call as the daemon does (JSON, info), into a file: realistic CPU cost.
    configure_logging("info", "json", stream=(workdir / "calls.log").open("w"))
    port = free_udp_port()
    total = int(args.rate * args.duration)
    sipp_stats = workdir / "sipp_stats.csv"
    sipp = start_sipp(port, total, args.duration + args.hold + 20, sipp_stats, workdir)
    sniff_file = workdir / "invites.txt"
    sniffer = start_sniffer(port, sniff_file)
    try:
        assert sniffer.stdout is not None
        ready = sniffer.stdout.readline().decode().strip()
        if ready != "ready":
            err = sniffer.stderr.read().decode() if sniffer.stderr else ""
            raise SystemExit(f"sniffer did not start (need root/CAP_NET_RAW): {err[-500:]}")
        await asyncio.sleep(0.5)  # SIPp binds
        trunk = SippyTrunk("127.0.0.1", port, media=False)
        await trunk.start()
        originated: dict[str, float] = {}
        outcomes: dict[str, int] = {}
        up = 0
        peak_up = 0
        live = 0
        peak_live = 0

        async def one_call() -> None:
            nonlocal up, peak_up, live, peak_live
            t_wall = time.time()
            call: SippyCall = await trunk.originate("+441632960123", "+441632960000", 60)
            originated[call.call_id] = t_wall
            live += 1
            peak_live = max(peak_live, live)
            answered = False
            async for event in call.events():
                if event.kind is TrunkEventKind.ANSWERED:
                    answered = True
                    up += 1
                    peak_up = max(peak_up, up)
                    asyncio.get_running_loop().call_later(
                        args.hold, lambda c=call: asyncio.ensure_future(c.hangup())
                    )
                if event.kind in (TrunkEventKind.ENDED, TrunkEventKind.FAILED):
                    live -= 1
                    if answered:
                        up -= 1
                    key = f"{event.kind}:{event.by or event.code}"
                    outcomes[key] = outcomes.get(key, 0) + 1

        loop = asyncio.get_running_loop()
        cpu0, wall0 = cpu_seconds(), loop.time()
        tasks = []
        for i in range(total):
            delay = wall0 + i / args.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one_call()))
        placed_s = loop.time() - wall0
        async with asyncio.timeout(args.hold + 20):
            await asyncio.gather(*tasks)
        wall = loop.time() - wall0
        cpu = cpu_seconds() - cpu0
        await trunk.stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            sipp.wait(15)
        await asyncio.sleep(0.3)
    finally:
        for proc in (sipp, sniffer):
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)

    on_wire: dict[str, float] = {}
    for line in sniff_file.read_text().splitlines():
        cid, t = line.split()
        on_wire[cid] = float(t)
    latencies = [(on_wire[cid] - t0) * 1000 for cid, t0 in originated.items() if cid in on_wire]
    rows = list(csv.reader(sipp_stats.read_text().splitlines(), delimiter=";"))
    stats = dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}
    expected = f"{TrunkEventKind.ENDED}:local"
    return {
        "attempts": total,
        "attempts_per_s": round(total / placed_s, 1),
        "peak_concurrent_calls": peak_live,
        "peak_concurrent_answered": peak_up,
        "outcomes": outcomes,
        "calls_not_ended_as_planned": total - outcomes.get(expected, 0),
        "sipp_successful_calls": stats.get("SuccessfulCall(C)"),
        "sipp_failed_calls": stats.get("FailedCall(C)"),
        "sipp_unexpected_messages": stats.get("FailedUnexpectedMessage(C)"),
        "sipp_retransmissions": stats.get("Retransmissions(C)"),
        "sipp_exit_code": sipp.returncode,
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "cpu_share_of_one_core": round(cpu / wall, 3),
        "invite_latency_ms": {
            "n": len(latencies),
            "p50": round(statistics.median(latencies), 2) if latencies else None,
            "p99": round(percentile(latencies, 99), 2) if latencies else None,
            "max": round(max(latencies), 2) if latencies else None,
        },
        "loop": "uvloop" if args.uvloop else "asyncio",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=60.0, help="call attempts per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of dialling")
    parser.add_argument(
        "--hold", type=float, default=9.0, help="seconds each answered call stays up"
    )
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    if not (0 < args.rate <= 500 and 0 < args.duration <= 60 and 0 <= args.hold <= 30):
        parser.error("bounded run: 0 < rate ≤ 500, 0 < duration ≤ 60, 0 ≤ hold ≤ 30")
    if os.geteuid() != 0:
        parser.error("the wire sniffer needs root (raw packet socket on lo)")
    with tempfile.TemporaryDirectory(prefix="sip_capacity_") as tmp:
        if args.uvloop:
            import uvloop

            result = uvloop.run(run(args, Path(tmp)))
        else:
            result = asyncio.run(run(args, Path(tmp)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
