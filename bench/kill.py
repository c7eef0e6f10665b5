"""Crash recovery, measured on the wire: SIGKILL `dialguard run` at random moments.

A broker, the SIP trunk simulator and simulated agent desktops run in this process; the
daemon is a real subprocess (`python -m dialguard run`). The campaign is started once
over MQTT; then, ``--kills`` times, the script waits a random 1–6 s of dialling
(``--gap-min-s``/``--gap-max-s``), sends
SIGKILL, and starts the daemon again (which resumes the campaign from the store). At
the end the daemon is paused and stopped with SIGTERM, and the store is checked against
the simulator's records, the callee's side of every call:

- **lost**: an INVITE the trunk saw with no attempt row for its number (must be 0);
- **dialled twice**: a number with two calls on the wire at once (must be 0; a retry
  after a settled attempt is the campaign's retry rule, and has its own row);
- **left open**: attempt rows with no outcome after the final clean stop (must be 0);
- **reservations left**: after the pause and the drain, agents the last daemon's own
  status snapshot (the retained ``…/engine/status``, read as ``dialguard status`` does)
  still shows reserved or on a call it placed, and calls it still counts in flight
  (must be 0: a reservation a crash left behind would keep an agent from every call);
- **answered then killed**: live answers the simulator recorded as silent or abandoned,
  which the kill cut off before an agent was reached, against the abandoned calls the
  store records (what the compliance report sees), of which those the next daemon
  ended as ``answered_after_restart`` (the SIP port is fixed across restarts).

Bounded: ``--kills`` cycles of at most ``--max-cycle-s`` each, then a drain of at most
80 s. Prints one line per kill and a summary; exits 1 if lost, dialled twice, left
open, reservations left or daemon crashes (the daemon runs with
DIALGUARD_CHECK_INVARIANTS=1, so a broken pacer ledger stops it) is non-zero.

    .venv/bin/python bench/kill.py                       # 20 kills, progressive
    .venv/bin/python bench/kill.py --mode predictive --kills 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _daemon import overlapping, start_campaign, until, write_config
from dialguard.demo.centre import CentreOptions, LocalCentre
from dialguard.demo.daemon import start_daemon
from dialguard.mqtt.client import read_status
from dialguard.mqtt.contract import EngineStatus
from dialguard.store import Store

CHECKED = {"DIALGUARD_CHECK_INVARIANTS": "1"}
"""The pacer checks its ledgers after every step; a broken one stops the daemon."""


async def settled_status(centre: LocalCentre, within_s: float) -> EngineStatus | None:
    """The daemon's first status snapshot, published after now, in which nothing is
    reserved or in flight; else the last one seen (``None`` if none came)."""
    broker = centre.engine_config().broker
    asked = time.time()
    last: EngineStatus | None = None
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        status = await read_status(broker, within_s=3.0)
        if status is not None and status.ts >= asked:
            last = status
            if not held(status):
                return status
        await asyncio.sleep(1.0)
    return last


def held(status: EngineStatus) -> int:
    """Agents reserved or on a call, plus calls in flight, in one snapshot."""
    agents = sum(1 for a in status.agents if a.reserved or a.call is not None)
    return agents + sum(c.in_flight for c in status.campaigns)


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="dialguard-kill-"))
    centre = LocalCentre(
        CentreOptions(
            mode=args.mode,
            agents=args.agents,
            contacts=args.contacts,
            speedup=20.0,
            profile="S1",
            seed=args.seed,
            workdir=work,
            start_engine=False,
            dnc_share=0.0,
            closed_share=0.0,
        )
    )
    log = work / "daemon.log"
    proc: subprocess.Popen[bytes] | None = None
    kills = crashes = 0
    final: EngineStatus | None = None
    t0 = time.monotonic()
    try:
        await centre.start()
        sim = centre.sim
        assert sim is not None
        config = write_config(centre, work, args.mode)
        proc = start_daemon(config, log, CHECKED)
        await start_campaign(centre, proc, log)
        for k in range(args.kills):
            before = len(sim.records)
            # let the new daemon dial at least once, then kill it at a random moment
            await until(lambda b=before: len(sim.records) > b, args.max_cycle_s)
            await asyncio.sleep(rng.uniform(args.gap_min_s, args.gap_max_s))
            in_flight = len(sim.active_calls)
            if proc.poll() is not None:  # it died on its own: a broken invariant, a crash
                crashes += 1
                print(f"daemon exited {proc.returncode} by itself; log: {log}", flush=True)
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            kills += 1
            print(
                f"kill {k + 1:2d}: {len(sim.records):4d} INVITEs so far, "
                f"{in_flight} on the wire at the kill",
                flush=True,
            )
            proc = start_daemon(config, log, CHECKED)
        await until(lambda: len(sim.records) > 0, 5)
        await asyncio.sleep(3.0)
        with contextlib.suppress(Exception):
            await centre.control("pause")
        await until(lambda: not sim.active_calls, 20)  # calls a killed daemon left ring on
        final = await settled_status(centre, 20.0)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 40)
        proc = None
        if code != 0:
            crashes += 1
            print(f"daemon exited {code} on SIGTERM; log: {log}")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    wall = time.monotonic() - t0
    records = centre.result().records
    async with await Store.open(centre.store_path) as store:
        attempts = await store.attempts.of_campaign("demo", 0, time.time() + 3600)
    invites = Counter(r.number for r in records)
    rows = Counter(a.number for a in attempts)
    lost = sum(max(0, n - rows[num]) for num, n in invites.items())
    twice = overlapping(records)
    left_open = sum(1 for a in attempts if a.outcome is None)
    # -1: no snapshot to judge by, or one that does not list every desktop's agent
    judged = final is not None and len(final.agents) >= args.agents
    reservations = held(final) if final is not None and judged else -1
    interrupted = sum(1 for a in attempts if a.outcome == "interrupted")
    killed_answers = [r for r in records if r.outcome == "live" and (r.silent or r.abandoned)]
    silent = sum(1 for r in records if r.silent)
    sim_abandoned = sum(1 for r in records if r.abandoned)
    stored_abandoned = sum(1 for a in attempts if a.abandoned or a.outcome == "abandoned")
    after_restart = sum(1 for a in attempts if a.abandon_reason == "answered_after_restart")
    print(
        f"\n{args.mode}: {kills} SIGKILLs in {wall:.0f} s; {len(records)} INVITEs, "
        f"{len(attempts)} attempt rows ({interrupted} interrupted)\n"
        f"  lost {lost}   dialled twice {twice}   left open {left_open}   "
        f"reservations left {reservations if reservations >= 0 else 'unknown (no full status)'}   "
        f"daemon crashes {crashes}\n"
        f"  live answers cut off by a kill (callee heard silence or the message): "
        f"{len(killed_answers)} ({silent} silent)\n"
        f"  abandoned: simulator {sim_abandoned}, store {stored_abandoned} "
        f"({after_restart} answered after a restart, ended by the next daemon)\n"
        f"  workdir {work}"
    )
    return 1 if lost or twice or left_open or reservations or crashes else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--mode", choices=["progressive", "predictive"], default="progressive")
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--contacts", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-cycle-s", type=float, default=30.0)
    ap.add_argument("--gap-min-s", type=float, default=1.0, help="dialling before a kill, least")
    ap.add_argument("--gap-max-s", type=float, default=6.0, help="dialling before a kill, most")
    return asyncio.run(run(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
