"""Issue 15's bar: on S4, expected-value ordering against list order, 20 seeds.

Guaranteed mode (``progressive``), virtual time, one 13 h day (08:00–21:00 in the
callees' zone) per seed, the same people for every order on a seed. Prints each order's
live contacts per agent-hour and attempts per live contact, the ratios against
``list``, and the compliance counts from the simulator's own record (calls without
consent, outside stated hours, to people who asked for another channel; hand-offs and
any repeated). A benchmark that prints figures; exits 1 only if a compliance count is
not 0 (the ratio targets are reported, not enforced).

    .venv/bin/python bench/right_time.py               # 20 seeds, ~6 min on one core
    .venv/bin/python bench/right_time.py --seeds 3 --orders list,expected_value
"""

from __future__ import annotations

import argparse
import sys
import time

from dialguard.propensity import ORDERS
from dialguard.sim.modes import make_pacer
from dialguard.sim.right_time import S4, RightTimeSummary, run_s4_day, summarise_s4

TARGET_LIVE_GAIN = 0.20
TARGET_ATTEMPT_CUT = 0.25


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--orders", default="list,priority,expected_value")
    args = ap.parse_args(argv)
    orders = args.orders.split(",")
    if "list" not in orders or any(o not in ORDERS for o in orders):
        ap.error(f"--orders: include 'list' and choose from {', '.join(ORDERS)}")
    results: dict[str, RightTimeSummary] = {}
    print(
        f"{'order':15} {'live/agent-h':>12} {'att/live':>8} {'no consent':>10} "
        f"{'outside hrs':>11} {'other chan':>10} {'hand-offs':>9} {'repeated':>8} {'wall':>6}"
    )
    for order in orders:
        t0 = time.perf_counter()
        pacer = "progressive"
        days = [run_s4_day(s, order, make_pacer(pacer, S4)) for s in range(args.seeds)]  # type: ignore[arg-type]
        r = results[order] = summarise_s4(order, days)
        print(
            f"{order:15} {r.live_contacts_per_agent_hour:12.2f} {r.attempts_per_live_contact:8.2f} "
            f"{r.calls_without_consent:10d} {r.calls_outside_preferred_hours:11d} "
            f"{r.calls_to_other_channel:10d} {r.handoffs:9d} {r.handoffs_repeated:8d} "
            f"{time.perf_counter() - t0:5.0f}s"
        )
    base = results["list"]
    for order, r in results.items():
        if order == "list":
            continue
        gain = r.live_contacts_per_agent_hour / base.live_contacts_per_agent_hour - 1
        cut = 1 - r.attempts_per_live_contact / base.attempts_per_live_contact
        live_ok = "met" if gain >= TARGET_LIVE_GAIN else "MISSED"
        cut_ok = "met" if cut >= TARGET_ATTEMPT_CUT else "MISSED"
        print(
            f"{order} vs list: live contacts per agent-hour {gain:+.1%} "
            f"(target ≥ +{TARGET_LIVE_GAIN:.0%}: {live_ok}), attempts per live contact "
            f"{-cut:+.1%} (target ≤ -{TARGET_ATTEMPT_CUT:.0%}: {cut_ok})"
        )
    bad = [
        o for o, r in results.items()
        if r.calls_without_consent or r.calls_outside_preferred_hours
        or r.calls_to_other_channel or r.handoffs_repeated
    ]  # fmt: skip
    if bad:
        print(f"compliance counts not 0 for: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
