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
    .venv/bin/python bench/right_time.py --days 2 --contacts 60000 --oracle

``--oracle`` adds a bound, not a dialler: the same engine and gate, but ordered by each
person's *true* chance of answering at the hour (which no daemon can know). It shows
how much of the gain any ordering could get on this list; it never feeds a figure of
the orders above.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import time

from dialguard.propensity import ORDERS, order_score
from dialguard.sim import right_time
from dialguard.sim.modes import make_pacer
from dialguard.sim.right_time import S4, S4_CONTACTS, RightTimeSummary, run_s4_days, summarise_s4

TARGET_LIVE_GAIN = 0.20
TARGET_ATTEMPT_CUT = 0.25


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--orders", default="list,priority,expected_value")
    ap.add_argument("--days", type=int, default=1, help="weekdays per seed on one list (1–5)")
    ap.add_argument("--contacts", type=int, default=S4_CONTACTS)
    ap.add_argument("--oracle", action="store_true", help="add the bound (module docstring)")
    args = ap.parse_args(argv)
    orders = args.orders.split(",")
    if "list" not in orders or any(o not in ORDERS for o in orders):
        ap.error(f"--orders: include 'list' and choose from {', '.join(ORDERS)}")
    results: dict[str, RightTimeSummary] = {}
    print(
        f"{'order':15} {'live/agent-h':>12} {'att/live':>8} {'no consent':>10} "
        f"{'outside hrs':>11} {'other chan':>10} {'hand-offs':>9} {'repeated':>8} {'wall':>6}"
    )
    for order in [*orders, *(["oracle"] if args.oracle else [])]:
        t0 = time.perf_counter()
        with _oracle() if order == "oracle" else contextlib.nullcontext():
            runs = [
                day
                for s in range(args.seeds)
                for day in run_s4_days(
                    s,
                    "expected_value" if order == "oracle" else order,  # type: ignore[arg-type]
                    lambda: make_pacer("progressive", S4),
                    days=args.days,
                    contacts=args.contacts,
                )
            ]
        r = results[order] = summarise_s4(order, runs)
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


_Row, _Truth, _State = right_time.ContactRow, right_time._Truth, right_time._State


class _oracle:
    """For the bound only: the dialler's score is the person's true hourly chance."""

    def __enter__(self) -> None:
        self._make, self._rescore = right_time.make_population, right_time.Dialler._rescore
        truths: list[_Truth] = []

        def make(
            seed: int, n: int = S4_CONTACTS
        ) -> tuple[list[right_time.ContactRow], list[right_time._Truth]]:
            rows, t = self._make(seed, n)
            truths[:] = t
            return rows, t

        def rescore(
            d: right_time.Dialler, c: right_time._State, t: float, _by: object = None
        ) -> None:
            hour = dt.datetime.fromtimestamp(t, right_time.ZONE).hour
            p = truths[c.row.id].answer_by_hour[hour]
            c.score = order_score(p, None, max(c.next_attempt_at, d.start))

        right_time.make_population = make  # type: ignore[assignment]
        right_time.Dialler._rescore = rescore  # type: ignore[assignment,method-assign]

    def __exit__(self, *exc: object) -> None:
        right_time.make_population = self._make  # type: ignore[assignment]
        right_time.Dialler._rescore = self._rescore  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.exit(main())
