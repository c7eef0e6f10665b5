"""The write queue alone: a call's attempt updates one transaction each, or written
behind in batches (engine/writes.py), on the same store, load and machine.

Calls arrive at ``--rate`` a second for ``--seconds``; each queues, spread over its
short life as a real call does, its five attempt updates (invited, ringing, answered,
connected, outcome) and then one other write (its contact's settlement), which ends a
batch. ``one-by-one`` queues each update as its own write (as the engine did before
the write-behind); ``batched`` queues them as values. Prints per mode: the store's write
transactions per call, the process CPU per call, the event loop's lag p50/p99 (a
ticker every 1 ms: what the writes cost the loop that carries every call's SIP events
and REFERs), the queue's peak depth and how long the last write waited.

    .venv/bin/python bench/write_behind.py --rate 150 --seconds 10
    .venv/bin/python bench/write_behind.py --store postgresql   # a scratch database
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from dialguard.engine.writes import StoreWrites
from dialguard.logs import configure_logging
from dialguard.store import AttemptUpdate, NewContact, Store

MODES = ("one-by-one", "batched")


@contextlib.asynccontextmanager
async def scratch(location: str) -> AsyncIterator[Store]:
    if location == "postgresql":
        from scaleout import scratch_database  # $DIALGUARD_TEST_PG, else 127.0.0.1:5432

        with scratch_database() as url:
            async with await Store.open(url) as store:
                yield store
        return
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "bench.sqlite3") as store:
            yield store


def count_transactions(store: Store) -> list[int]:
    db = store._database
    inner = db.transaction
    opened = [0]

    def counted() -> Any:
        opened[0] += 1
        return inner()

    db.transaction = counted  # type: ignore[method-assign]
    return opened


async def lag_ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.001)
        lags.append(loop.time() - t - 0.001)


async def one_mode(mode: str, location: str, rate: float, seconds: float) -> dict[str, float]:
    async with scratch(location) as store:
        n = int(rate * seconds)
        await store.campaigns.upsert("b", "bench", "{}")
        await store.contacts.insert(
            "b", [NewContact(number=f"+4420794{i:05d}", region="GB") for i in range(n)]
        )
        contacts = await store.contacts.due("b", 1e12, n)
        ids = [
            await store.attempts.open(campaign_id="b", contact_id=c.id, number=c.number, mode="p")
            for c in contacts
        ]
        opened = count_transactions(store)
        writes = StoreWrites()
        writer = asyncio.create_task(writes.run())
        lags: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(lag_ticker(lags, stop))
        peak = 0
        rng = random.Random(7)

        def queue(update: AttemptUpdate) -> None:
            nonlocal peak
            if mode == "batched":
                writes.update(store, update)
            else:
                writes.submit(str(update), lambda: store.attempts.update(update))
            peak = max(peak, writes.pending)

        async def call(attempt_id: int, contact_id: int) -> None:
            t = time.time()
            queue(AttemptUpdate.invited(attempt_id, t, f"c{attempt_id}"))
            await asyncio.sleep(rng.uniform(0.2, 0.5))
            queue(AttemptUpdate.ringing(attempt_id, t + 0.3))
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            queue(AttemptUpdate.answered(attempt_id, t + 1))
            await asyncio.sleep(0.01)
            queue(AttemptUpdate.connected(attempt_id, t + 1.01, "a1"))
            await asyncio.sleep(1.0)
            queue(AttemptUpdate.settled(attempt_id, "connected", ended_at=t + 2, ended_by="remote"))
            writes.submit(
                f"settle contact {contact_id}",
                lambda: store.contacts.settle(
                    contact_id, "done", attempts=1, last_outcome="connected"
                ),
            )

        cpu0, wall0 = time.process_time(), time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for i, (aid, c) in enumerate(zip(ids, contacts, strict=True)):
                tg.create_task(call(aid, c.id))
                await asyncio.sleep(max(0.0, wall0 + (i + 1) / rate - time.perf_counter()))
        last_queued = time.perf_counter()
        assert await writes.drain(60), "the queue did not drain"
        drained = time.perf_counter() - last_queued
        cpu = time.process_time() - cpu0
        stop.set()
        await ticker
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        assert writes.stats.dropped == 0
        lags.sort()
        return {
            "tx/call": opened[0] / n,
            "cpu ms/call": 1000 * cpu / n,
            "lag p50 ms": 1000 * statistics.median(lags),
            "lag p99 ms": 1000 * lags[int(0.99 * (len(lags) - 1))],
            "peak queue": float(peak),
            "drain ms": 1000 * drained,
        }


async def main_async(args: argparse.Namespace) -> None:
    print(f"store: {args.store};"
          f" {args.rate:g} calls/s for {args.seconds:g} s; medians of {args.repeat}")  # fmt: skip
    heads = ("tx/call", "cpu ms/call", "lag p50 ms", "lag p99 ms", "peak queue", "drain ms")
    print(f"{'mode':>11} " + " ".join(f"{h:>11}" for h in heads))
    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for _ in range(args.repeat):
        for mode in MODES:  # alternated, so both see the same machine load
            results[mode].append(await one_mode(mode, args.store, args.rate, args.seconds))
    for mode in MODES:
        med = {h: statistics.median(r[h] for r in results[mode]) for h in heads}
        print(f"{mode:>11} " + " ".join(f"{med[h]:>11.2f}" for h in heads))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=150.0, help="calls a second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    args = ap.parse_args()
    configure_logging(level="warning")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
