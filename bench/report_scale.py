"""Benchmark: the compliance report over 1M attempts in 30 days.

Why: issue 16 measured 97 s and 1.4 GB for `dialguard report compliance` on a campaign
of that size, and asks for ≤ 5 s. This builds such a store once (set-based, in SQLite
itself: a recursive CTE writes the rows in a few seconds), then times the report the way
the CLI runs it (``dialguard.cli.report._compliance``: open the store, read the
campaign's stored config, build the report, render it as JSON), each run in a child
process so its peak RSS is its own.

    .venv/bin/python bench/report_scale.py                     # 1M attempts, 24h, 3 runs
    .venv/bin/python bench/report_scale.py --window 30d
    .venv/bin/python bench/report_scale.py --attempts 100000 --runs 1

The history: 100,000 contacts of a TCPA campaign in five US zone sets (one with two
zones), attempts spread over 30 days day and night (so some fall outside the window),
about 40 % answered (machines, connects, late connects, flagged abandons), short rings
cancelled by us, and 2 % of the numbers on the US DNC list, half of them listed only
after the dial. Pseudo-random from the row number (no seed needed: always the same).
Bounded: one store build and ``--runs`` child processes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dialguard.config import parse_campaign
from dialguard.logs import configure_logging
from dialguard.store import Store

DAY = 86400.0
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
CONTACTS = 100_000
ZONE_SETS = (
    '["America/New_York"]',
    '["America/Chicago"]',
    '["America/Denver"]',
    '["America/Los_Angeles"]',
    '["America/Chicago","America/New_York"]',
)
CAMPAIGN = {
    "id": "big",
    "name": "Big",
    "caller_id": "+12025550123",
    "calling_window": {"regime": "tcpa"},
    "dnc": {"lists": ["usdnc"]},
}

# h is a pseudo-random 0..999 per row (a multiplicative hash of its number).
_ATTEMPTS = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1),
r AS (SELECT i, (i * 2654435761) % 1000 AS h, (i * 40503) % 100000 AS c,
             :start + i * :step + ((i * 7919) % 1000) / 1000.0 * :step AS t FROM n)
INSERT INTO attempts (campaign_id, contact_id, number, mode, call_id, created_at, invite_at,
                      ringing_at, answered_at, connected_at, ended_at, outcome, sip_code,
                      abandoned, abandon_reason, ended_by, message_played_at, opted_out)
SELECT 'big', c + 1, printf('+1212%07d', c), 'progressive', 'call-' || i, t, t + 0.05,
       t + 1.0,
       CASE WHEN h >= 600 THEN t + 9.0 END,
       CASE WHEN h >= 650 AND h < 980
            THEN t + 9.3 + CASE WHEN h % 97 = 0 THEN 2.5 ELSE (h % 10) / 10.0 END END,
       t + 1.0 + CASE WHEN h < 600 THEN 5 + h % 40 ELSE 60 END,
       CASE WHEN h < 300 THEN 'no_answer' WHEN h < 600 THEN 'busy'
            WHEN h < 650 THEN 'voicemail' WHEN h < 980 THEN 'connected' ELSE 'abandoned' END,
       CASE WHEN h >= 300 AND h < 600 THEN 486 END,
       CASE WHEN h >= 980 THEN 1 ELSE 0 END,
       CASE WHEN h >= 990 THEN 'agent_lost' WHEN h >= 980 THEN 'no_agent' END,
       CASE WHEN h < 150 THEN 'local' ELSE 'remote' END,
       CASE WHEN h >= 980 THEN t + 9.5 END,
       CASE WHEN h = 999 THEN 1 ELSE 0 END
FROM r
"""
_CONTACTS = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1)
INSERT INTO contacts (id, campaign_id, number, region, timezones, status, created_at)
SELECT i + 1, 'big', printf('+1212%07d', i), 'US',
       CASE i % 5 WHEN 0 THEN :z0 WHEN 1 THEN :z1 WHEN 2 THEN :z2 WHEN 3 THEN :z3 ELSE :z4 END,
       'done', :start FROM n
"""
_LISTED = """
INSERT INTO suppressions (number, source, list_date, reason, added_at)
SELECT number, 'usdnc', '2026-10-01', NULL,
       CASE WHEN id % 100 = 0 THEN :start - 86400 ELSE :start + 40 * 86400 END
FROM contacts WHERE id % 50 = 0
"""


def build(path: Path, attempts: int) -> None:
    """The store: schema by dialguard itself, rows by SQLite in bulk."""
    configure_logging("warning")

    async def schema() -> None:
        async with await Store.open(path) as store:
            config = parse_campaign(CAMPAIGN).model_dump_json()
            await store.campaigns.upsert("big", "Big", config, state="active")

    asyncio.run(schema())
    db = sqlite3.connect(path)
    zones = {f"z{i}": z for i, z in enumerate(ZONE_SETS)}
    with db:
        db.execute(_CONTACTS, {"count": CONTACTS, "start": START, **zones})
        db.execute(_LISTED, {"start": START})
        db.execute(_ATTEMPTS, {"count": attempts, "start": START, "step": 30 * DAY / attempts})
    db.execute("ANALYZE")
    db.close()


def _child(path: Path, window: str) -> dict[str, float]:
    from dialguard.cli.report import _compliance, _report_json
    from dialguard.config import StoreConfig

    configure_logging("warning")
    start, end = START, START + 30 * DAY
    t0 = time.perf_counter()
    report = asyncio.run(_compliance(StoreConfig(path=path), "big", window, start, end))
    text = json.dumps(_report_json(report, start, end))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "attempts": sum(p.attempts for p in report.periods),
        "outside": sum(p.outside_window for p in report.periods),
        "dnc": sum(p.dnc_hits for p in report.periods),
        "abandoned": sum(p.abandoned for p in report.periods),
        "breaches": len(report.breaches),
        "json_bytes": len(text),
    }


def main(attempts: int, runs: int, window: str, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="dialguard-bench-") as tmp:
        path = keep or Path(tmp) / "big.sqlite3"
        if not path.exists():
            t0 = time.perf_counter()
            build(path, attempts)
            print(f"built {attempts:,} attempts in {time.perf_counter() - t0:.1f} s", flush=True)
        results = []
        for run in range(1, runs + 1):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), window],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out)
            results.append(r)
            print(
                f"  run {run}: {r['seconds']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB"
                f" ({r['attempts']:,} attempts, {r['outside']:,} outside the window,"
                f" {r['dnc']:,} DNC hits, {r['abandoned']:,} abandoned,"
                f" {r['breaches']} breaches)",
                flush=True,
            )
    secs = statistics.median(r["seconds"] for r in results)
    rss = statistics.median(r["peak_rss_mb"] for r in results)
    print(f"report compliance --window {window} over 30 days: {secs:.2f} s (median of {runs})")
    print(f"peak RSS: {rss:.0f} MB (median)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_child(Path(sys.argv[2]), sys.argv[3])))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--attempts", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--window", choices=("24h", "30d"), default="24h")
    ap.add_argument("--keep", type=Path, help="build the store here (reused if it exists)")
    a = ap.parse_args()
    if not (1 <= a.runs <= 10 and 1000 <= a.attempts <= 5_000_000):
        sys.exit("--runs must be 1..10 and --attempts 1,000..5,000,000")
    main(a.attempts, a.runs, a.window, a.keep)
