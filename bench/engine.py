"""The whole engine against the simulator: attempts/s, concurrency, CPU, latencies, the promise.

A broker, the SIP trunk simulator and N simulated desktops run in this process; the
daemon is a real ``dialguard run`` subprocess (bench/_daemon.py). The callees are a
short-call population (post-dial 0.2–0.5 s, answer after 0.5–1.5 s of ringing, 60 %
live, talk 1 s after ``--speedup``), so the engine, not the people, is what limits the
rate. For each size in ``--agents`` it dials ``--seconds`` in progressive (guaranteed)
mode and prints, measured from the callee's side wherever the wire allows:

* attempts/s: INVITEs the simulator received in the window, per second;
* concurrent calls: the simulator's calls up (median and peak of samples every 0.25 s);
* CPU per attempt: the daemon's user+system CPU (``/proc/PID/stat``) over the window,
  per INVITE;
* ready→INVITE p50/p99: a desktop going ready (after a wrap-up, in the window) to the
  INVITE of the next call it is offered (simulator's arrival time, ms resolution). The
  simulator cannot tell which agent a call was placed for, so a busy or unanswered call
  placed for that agent first stretches the figure: its tail is the time to the next
  *answered* call, an upper bound on the engine's own ready→INVITE;
* answer→REFER p50/p99: the simulator's 200 OK to the REFER it received;
* abandoned (the simulator's verdict: a live answer with no agent within 2 s), silent,
  and late connects (agent reached more than 2 s after the answer).

With ``--sip-rate`` it also runs bench/sip_capacity.py (the bare SIP stack against SIPp;
needs root for its sniffer) in the same run, for the ratio the issue asks about.

Bounded: each size takes ``--seconds`` + about 30 s (start, drain, stop).

    .venv/bin/python bench/engine.py --agents 50,200 --seconds 20
    .venv/bin/python bench/engine.py --agents 500,1000 --seconds 20 --repeat 3 --sip-rate 150
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _daemon import start_campaign, until, write_config
from dialguard.demo.broker import free_loopback_port
from dialguard.demo.centre import CentreOptions, LocalCentre
from dialguard.demo.daemon import start_daemon
from dialguard.law import CONNECT_DEADLINE_S
from dialguard.logs import configure_logging
from dialguard.sip.simulator.profile import Dist, Profile, Shares, fixed, uniform

SHORT_CALLS = Profile(
    name="short-calls",
    shares=Shares(live=0.6, busy=0.15, unavailable=0.1, not_found=0.05, voicemail=0.0),
    post_dial_delay_s=uniform(0.2, 0.5),
    ring_to_answer_s=uniform(0.5, 1.5),
    busy_after_s=uniform(0.2, 0.5),
    unavailable_after_s=uniform(0.2, 0.5),
    not_found_after_s=uniform(0.2, 0.5),
    talk_s=Dist(dist="lognormal", mean=10, cv=0.3),
    patience_s=fixed(3),
)
"""No-answer calls (10 %) ring until the 20 s ring timeout, as real ones do."""

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f}"


async def one_size(agents: int, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"dialguard-bench-engine-{agents}-"))
    contacts = max(2000, int(agents * args.seconds * 1.5))
    centre = LocalCentre(
        CentreOptions(
            mode=args.mode,
            agents=agents,
            contacts=contacts,
            speedup=args.speedup,
            profile=SHORT_CALLS,
            seed=1,
            workdir=work,
            start_engine=False,
            closed_share=0.0,
            dnc_share=0.0,
            wrap_s=args.wrap,
        )
    )
    log = work / "daemon.log"
    proc: subprocess.Popen[bytes] | None = None
    ready_at: dict[str, list[float]] = {}
    concurrent: list[int] = []
    try:
        await centre.start()
        sim = centre.sim
        assert sim is not None
        for agent in centre.agents:
            ready_at[agent.agent_id] = []
            setattr(agent, "set_state", _recording(agent.set_state, ready_at[agent.agent_id]))  # noqa: B010
        config = write_config(centre, work, args.mode, metrics_port=free_loopback_port())
        proc = start_daemon(config, log)
        await start_campaign(centre, proc, log, within_s=60)
        await asyncio.sleep(args.warmup)
        n0, cpu0, t0 = len(sim.records), cpu_seconds(proc.pid), time.time()
        while time.time() - t0 < args.seconds:
            if proc.poll() is not None:
                raise SystemExit(f"daemon exited {proc.returncode}; log: {log}")
            concurrent.append(len(sim.active_calls))
            await asyncio.sleep(0.25)
        n1, cpu1, t1 = len(sim.records), cpu_seconds(proc.pid), time.time()
        await centre.control("pause")
        await until(lambda: not sim.active_calls, 40)
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 60)
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    records = centre.result().records
    window = records[n0:n1]
    invite_at = {r.call_id: epoch(r.invite_wall) for r in records if r.invite_wall}
    ready_to_invite: list[float] = []
    for agent in centre.agents:
        readies = [t for t in ready_at[agent.agent_id] if t0 <= t <= t1]
        for call in agent.calls.values():
            inv = invite_at.get(call.call_id)
            if inv is None:
                continue
            before = [t for t in readies if t <= inv + 0.001]
            if before and inv - before[-1] < 30:
                ready_to_invite.append(max(0.0, inv - before[-1]))
    a2r = [r.answer_to_refer_s for r in records if r.answer_to_refer_s is not None]
    answered_live = [r for r in records if r.answered and r.outcome == "live"]
    late = sum(
        1
        for r in answered_live
        if r.answer_to_agent_s is not None and r.answer_to_agent_s > CONNECT_DEADLINE_S
    )
    attempts = n1 - n0
    return {
        "agents": agents,
        "attempts": attempts,
        "attempts_per_s": attempts / (t1 - t0),
        "concurrent_p50": statistics.median(concurrent) if concurrent else 0,
        "concurrent_peak": max(concurrent, default=0),
        "cpu_ms_per_attempt": 1000 * (cpu1 - cpu0) / attempts if attempts else None,
        "cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "ready_to_invite_p50": pct(ready_to_invite, 50),
        "ready_to_invite_p99": pct(ready_to_invite, 99),
        "ready_to_invite_n": len(ready_to_invite),
        "answer_to_refer_p50": pct(a2r, 50),
        "answer_to_refer_p99": pct(a2r, 99),
        "live_answers": len(answered_live),
        "abandoned": sum(1 for r in records if r.abandoned),
        "silent": sum(1 for r in records if r.silent),
        "late_connects": late,
        "window_calls": len(window),
        "workdir": str(work),
    }


def _recording(
    set_state: Callable[[Any], Awaitable[None]], into: list[float]
) -> Callable[[Any], Awaitable[None]]:
    """Wrap a desktop's ``set_state`` to note when it goes ready (wall clock)."""

    async def wrapped(state: Any) -> None:
        if state == "ready":
            into.append(time.time())
        await set_state(state)

    return wrapped


def sip_capacity(rate: float, seconds: float) -> dict[str, Any] | None:
    script = Path(__file__).resolve().parent / "sip_capacity.py"
    cmd = [sys.executable, str(script), "--rate", str(rate), "--duration", str(seconds)]
    out = subprocess.run([*cmd, "--hold", "2"], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(f"sip_capacity failed: {out.stderr[-500:]}")
        return None
    result: dict[str, Any] = json.loads(out.stdout)
    return result


HEADER = (
    f"{'agents':>6} {'att/s':>6} {'conc50':>6} {'peak':>5} {'cpu/att':>7} {'cpu%':>5} "
    f"{'r→I p50':>7} {'r→I p99':>7} {'a→R p50':>7} {'a→R p99':>7} "
    f"{'live':>5} {'aband':>5} {'silent':>6} {'late':>4}"
)


def line(r: dict[str, Any]) -> str:
    cpu = r["cpu_ms_per_attempt"]
    return (
        f"{r['agents']:6d} {r['attempts_per_s']:6.1f} {r['concurrent_p50']:6.0f} "
        f"{r['concurrent_peak']:5d} {'-' if cpu is None else f'{cpu:5.1f}ms':>7} "
        f"{r['cpu_share']:5.0%} {ms(r['ready_to_invite_p50']):>7} "
        f"{ms(r['ready_to_invite_p99']):>7} {ms(r['answer_to_refer_p50']):>7} "
        f"{ms(r['answer_to_refer_p99']):>7} {r['live_answers']:5d} {r['abandoned']:5d} "
        f"{r['silent']:6d} {r['late_connects']:4d}"
    )


async def run(args: argparse.Namespace) -> int:
    sizes = [int(x) for x in args.agents.split(",")]
    print("latencies in ms; r→I ready→INVITE, a→R answer→REFER (simulator side)")
    print(HEADER, flush=True)
    results: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    for _ in range(args.repeat):
        for n in sizes:
            r = await one_size(n, args)
            results[n].append(r)
            print(line(r), flush=True)
    if args.repeat > 1:
        print("medians:")
        for n in sizes:
            med = {
                k: statistics.median(x[k] for x in results[n])
                for k, v in results[n][0].items()
                if isinstance(v, (int, float)) and all(x[k] is not None for x in results[n])
            }
            med.setdefault("cpu_ms_per_attempt", None)
            for k in ("ready_to_invite_p50", "ready_to_invite_p99"):
                med.setdefault(k, None)
            for k in ("answer_to_refer_p50", "answer_to_refer_p99"):
                med.setdefault(k, None)
            med["agents"] = n
            print(line(med))
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(results, indent=2))
    if args.sip_rate:
        bare = await asyncio.to_thread(sip_capacity, args.sip_rate, 10)
        if bare is not None:
            best = max(r["attempts_per_s"] for rs in results.values() for r in rs)
            bare_rate = bare["attempts_per_s"]
            print(
                f"bare SIP stack (sip_capacity.py --rate {args.sip_rate:g}): {bare_rate} "
                f"attempts/s, {bare['cpu_share_of_one_core']:.0%} of a core; engine best "
                f"{best:.1f}/s = {best / bare_rate:.0%} of it"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--agents", default="50,200", help="comma-separated, e.g. 50,200,500,1000")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured window per size")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--mode", choices=["progressive", "predictive"], default="progressive")
    ap.add_argument("--speedup", type=float, default=10.0, help="divides talk times")
    ap.add_argument("--wrap", type=float, default=0.3, help="agent wrap-up seconds")
    ap.add_argument("--sip-rate", type=float, default=0.0, help="also run sip_capacity.py")
    ap.add_argument("--json", default="", help="write all results to this file")
    args = ap.parse_args(argv)
    if not (0 < args.seconds <= 120 and 1 <= args.repeat <= 5):
        ap.error("bounded run: 0 < --seconds ≤ 120, 1 ≤ --repeat ≤ 5")
    configure_logging("warning")  # the simulator logs every call at info
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
