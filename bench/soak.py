"""Soak: `dialguard run` for an hour at a standard workload, sampled for leaks.

A broker, the SIP trunk simulator (workload ``--profile``, S2 by default) and simulated
desktops run in this process; the daemon is a real subprocess with its metrics listener
on a free loopback port. Every ``--every`` seconds the script scrapes ``/metrics`` and
records the daemon's resident memory, open file descriptors and live asyncio tasks
(`process_resident_memory_bytes`, `process_open_fds`, `dialguard_asyncio_tasks`) with
the calls placed so far. At the end it prints the samples, and for each figure its
first-quarter and last-quarter medians and their ratio: a leak shows as a ratio that
keeps growing with the run's length; flat is about 1.

Bounded: ``--minutes`` of dialling (60 by default), then a pause and a stop.

    .venv/bin/python bench/soak.py                       # 60 min, S2, 6 agents
    .venv/bin/python bench/soak.py --minutes 5 --every 15
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _daemon import start_campaign, until, write_config
from dialguard.demo.broker import free_loopback_port
from dialguard.demo.centre import CentreOptions, LocalCentre
from dialguard.demo.daemon import start_daemon

FIGURES = {
    "rss_mb": ("process_resident_memory_bytes", 1 / 2**20),
    "fds": ("process_open_fds", 1.0),
    "tasks": ("dialguard_asyncio_tasks", 1.0),
}


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    values: dict[str, float] = {}
    for line in body.splitlines():
        for key, (metric, scale) in FIGURES.items():
            if line.startswith(metric + " "):
                values[key] = float(line.split()[1]) * scale
    return values


def quarter_medians(xs: list[float]) -> tuple[float, float]:
    q = max(1, len(xs) // 4)
    return statistics.median(xs[:q]), statistics.median(xs[-q:])


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="dialguard-soak-"))
    centre = LocalCentre(
        CentreOptions(
            mode=args.mode,
            agents=args.agents,
            contacts=args.contacts,
            speedup=args.speedup,
            profile=args.profile,
            seed=1,
            workdir=work,
            start_engine=False,
            closed_share=0.0,
        )
    )
    port = free_loopback_port()
    log = work / "daemon.log"
    proc: subprocess.Popen[bytes] | None = None
    samples: list[tuple[float, int, dict[str, float]]] = []
    try:
        await centre.start()
        sim = centre.sim
        assert sim is not None
        config = write_config(centre, work, args.mode, metrics_port=port)
        proc = start_daemon(config, log)
        await start_campaign(centre, proc, log)
        t0 = time.monotonic()
        print(f"{'min':>6} {'calls':>6} {'rss_mb':>7} {'fds':>5} {'tasks':>6}", flush=True)
        while (elapsed := time.monotonic() - t0) < args.minutes * 60:
            if proc.poll() is not None:
                print(f"daemon exited {proc.returncode}; log: {log}")
                return 1
            try:
                values = await asyncio.to_thread(scrape, port)
            except OSError as e:
                print(f"scrape failed: {e}")
                values = {}
            if values:
                samples.append((elapsed, len(sim.records), values))
                print(
                    f"{elapsed / 60:6.1f} {len(sim.records):6d} {values.get('rss_mb', 0):7.1f} "
                    f"{values.get('fds', 0):5.0f} {values.get('tasks', 0):6.0f}",
                    flush=True,
                )
            await asyncio.sleep(args.every)
        await centre.control("pause")
        await until(lambda: not sim.active_calls, 60)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 60)
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
        await centre.stop()
    result = centre.result()
    summary = result.summary
    silent = sum(1 for r in result.records if r.silent)
    print(
        f"\n{args.profile} {args.mode}, {args.agents} agents, {args.minutes:g} min: "
        f"{summary.get('attempts')} calls, {summary.get('connected')} connected, "
        f"{summary.get('abandoned')} abandoned, {silent} silent; "
        f"daemon exit {code} on SIGTERM"
    )
    for key in FIGURES:
        xs = [v[key] for _, _, v in samples if key in v]
        if len(xs) >= 4:
            first, last = quarter_medians(xs)
            print(
                f"  {key:6} first-quarter median {first:8.1f}  last-quarter median {last:8.1f}"
                f"  ratio {last / first if first else float('nan'):5.2f}  max {max(xs):8.1f}"
            )
    print(f"  workdir {work}")
    return 0 if code == 0 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--profile", default="S2")
    ap.add_argument("--mode", choices=["progressive", "predictive"], default="progressive")
    ap.add_argument("--agents", type=int, default=6)
    ap.add_argument("--contacts", type=int, default=20_000)
    ap.add_argument("--speedup", type=float, default=10.0)
    return asyncio.run(run(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
