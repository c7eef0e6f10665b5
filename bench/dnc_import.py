"""Benchmark: import a national do-not-call list (US registry, 1M numbers) into a store.

Why: issue 16 asks for ≥ 50,000 numbers/s (a 20M-number national list in under 7
minutes); each run imports the same file into a fresh store, then once more into the
same store (the weekly refresh: every number already present, each takes the new list
date). Prints numbers/s for both, the share of the import spent parsing numbers alone,
and the peak RSS of the run (each run is a child process, so the figure is its own).

    .venv/bin/python bench/dnc_import.py                 # 1M numbers, median of 3 runs
    .venv/bin/python bench/dnc_import.py --rows 100000 --runs 1

The file is generated from a seed (10-digit US numbers, a few written +1 (212) …, ~0.1 %
bad rows and ~0.1 % repeated numbers) in a temporary directory removed afterwards.
Bounded: ``--runs`` child processes, each two imports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dialguard.importing import import_dnc
from dialguard.logs import configure_logging
from dialguard.phone import InvalidNumber, normalise_number
from dialguard.store import Store

_AREAS = ("212", "415", "312", "617", "202", "305", "512", "206", "303", "404", "646", "718")
_BAD = ("12", "not a number", "+44 20 7946 0000", "555-01")


def write_list(path: Path, rows: int, seed: int) -> None:
    """One number a line, with a header, as the registry's download is."""
    rng = random.Random(seed)
    recent: list[str] = []
    with path.open("w", encoding="ascii", newline="") as f:
        f.write("phone\n")
        for _ in range(rows):
            roll = rng.random()
            if roll < 0.001:
                f.write(rng.choice(_BAD) + "\n")
                continue
            if roll < 0.002 and recent:
                f.write(rng.choice(recent) + "\n")  # a repeat: reported as a duplicate
                continue
            digits = f"{rng.choice(_AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            text = f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}" if roll > 0.98 else digits
            if len(recent) < 1000:
                recent.append(text)
            f.write(text + "\n")


async def _one_run(list_path: Path, store_path: Path) -> dict[str, float]:
    configure_logging("warning")
    async with await Store.open(store_path) as store:
        t0 = time.perf_counter()
        first = await import_dnc(store, list_path, "usdnc", "2026-11-01", "US")
        t1 = time.perf_counter()
        again = await import_dnc(store, list_path, "usdnc", "2026-11-20", "US")
        t2 = time.perf_counter()
    assert again.imported == 0 and again.duplicates_in_store == first.imported, (first, again)
    return {
        "read": first.read,
        "imported": first.imported,
        "rejected": first.rejected,
        "import_s": t1 - t0,
        "refresh_s": t2 - t1,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _parse_only(list_path: Path) -> float:
    """Seconds spent in normalise_number alone for every line of the file."""
    lines = list_path.read_text().splitlines()[1:]
    t0 = time.perf_counter()
    for text in lines:
        with contextlib.suppress(InvalidNumber):
            normalise_number(text, "US")
    return time.perf_counter() - t0


def main(rows: int, runs: int, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dialguard-bench-") as tmp:
        workdir = Path(tmp)
        list_path = workdir / "usdnc.csv"
        write_list(list_path, rows, seed)
        size_mb = list_path.stat().st_size / 1e6
        print(f"{rows:,} lines, {size_mb:.1f} MB, seed {seed}", flush=True)
        results = []
        for run in range(1, runs + 1):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(list_path), str(workdir / f"{run}.db")],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out)
            results.append(r)
            print(
                f"  run {run}: read {r['read']:,}, imported {r['imported']:,}, rejected"
                f" {r['rejected']:,}; import {r['import_s']:.2f} s, refresh {r['refresh_s']:.2f} s,"
                f" peak RSS {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        parse_s = _parse_only(list_path)
    read = results[0]["read"]
    imp = statistics.median(r["import_s"] for r in results)
    ref = statistics.median(r["refresh_s"] for r in results)
    rss = statistics.median(r["peak_rss_mb"] for r in results)
    print(f"import:  {read / imp:,.0f} numbers/s ({imp:.2f} s, median of {runs})")
    print(f"refresh: {read / ref:,.0f} numbers/s ({ref:.2f} s, every number already listed)")
    print(f"normalise_number alone: {parse_s:.2f} s = {parse_s / imp:.0%} of the import")
    print(f"peak RSS: {rss:.0f} MB (median of the runs)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(asyncio.run(_one_run(Path(sys.argv[2]), Path(sys.argv[3])))))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if not (1 <= a.runs <= 10 and 100 <= a.rows <= 20_000_000):
        sys.exit("--runs must be 1..10 and --rows 100..20,000,000")
    main(a.rows, a.runs, a.seed)
