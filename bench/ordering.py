"""Benchmark: picking the next contact from 1M by each ``order``, and the score refresh.

Why: issue 15 asks that ordering by expected value stays cheap at list scale — the next
contact out of a million in single-digit milliseconds — which is why the score is a
stored, indexed column (``contacts_due_value``) and not computed per pick. This builds a
store of ``--contacts`` pending contacts in one campaign (random segments, zones,
propensities and scores; a third of them with a retry not yet due, so the walk must
skip those), then times ``store.contacts.due(limit=25)`` — the picker's one query — for
each order, claiming the first contact after each pick so every pick is a new one.
Prints p50/p99/max per order and how long one refresh of every score takes
(engine/right_time.py's ``rescore_cold``, the 10-minute job).

    .venv/bin/python bench/ordering.py                  # 1M contacts, ~2 min to build
    .venv/bin/python bench/ordering.py --contacts 100000 --picks 200
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dialguard.logs import configure_logging
from dialguard.propensity import AGING_S, DEFAULT_PROPENSITY, ORDERS
from dialguard.store import NewContact, Store

ZONES = (("America/New_York",), ("America/Chicago",), ("America/Los_Angeles",))
SEGMENTS = ("retired", "working", "general", "student", "")
NOW = 1_772_460_000.0  # 2026-03-02, a Monday


async def build(path: Path, n: int, rng: random.Random) -> Store:
    store = await Store.open(path)
    await store.campaigns.upsert("big", "Big", '{"id": "big"}', state="active")
    chunk = 100_000
    for start in range(0, n, chunk):
        rows = [
            NewContact(
                number=f"+1212{i:07d}",
                region="US",
                timezones=rng.choice(ZONES),
                priority=0,
                segment=rng.choice(SEGMENTS) or None,
                propensity=round(rng.random(), 3),
            )
            for i in range(start, min(n, start + chunk))
        ]
        await store.contacts.insert("big", rows, now=NOW - 86400, score=lambda c, t: rng.random())
    async with store._database.transaction() as tx:  # a third wait for a retry
        await tx.execute("UPDATE contacts SET next_attempt_at = ? WHERE id % 3 = 0", (NOW + 3600,))
    async with store._database.transaction() as tx:
        await tx.execute("ANALYZE")
    return store


async def time_picks(store: Store, order: str, picks: int) -> list[float]:
    out = []
    for _ in range(picks):
        t0 = time.perf_counter()
        due = await store.contacts.due("big", NOW, 25, order=order)
        out.append((time.perf_counter() - t0) * 1000)
        await store.contacts.claim(due[0].id)
    return out


async def main_async(args: argparse.Namespace) -> int:
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = await build(Path(tmp) / "s.sqlite3", args.contacts, rng)
        print(f"built {args.contacts:,} contacts in {time.perf_counter() - t0:.0f} s")
        print(f"{'order':15} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
        for order in ORDERS:
            ms = sorted(await time_picks(store, order, args.picks))
            p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
            print(f"{order:15} {statistics.median(ms):7.2f} {p99:7.2f} {ms[-1]:7.2f}")
        keys = await store.contacts.profile_keys("big")
        figures = {k: rng.uniform(0.05, 0.5) for k in keys}
        t0 = time.perf_counter()
        await store.contacts.rescore_cold(
            "big", figures, aging_s=AGING_S, default_propensity=DEFAULT_PROPENSITY
        )
        print(
            f"refresh of every score ({len(keys)} segment × stated hours × zone figures): "
            f"{time.perf_counter() - t0:.1f} s in batches of 50,000"
        )
        await store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--picks", type=int, default=500)
    args = ap.parse_args(argv)
    configure_logging(level="warning")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
