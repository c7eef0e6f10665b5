"""Issue 9's bar for guaranteed mode: S1–S3 with a drawn wrap-up, 15 s ring timeout.

``progressive`` on docs/design.md's workloads with ``wrap_cv = 0.3`` (lognormal wrap-up; the
campaign's cap, 1.5× the mean, is enforced as the daemon does), 20 seeded 8 h days each:
prints talk share against the target and the closed-form ceiling, abandoned calls,
ring timeout and attempts per contact. Exits 1 if any target is missed.

    .venv/bin/python bench/guaranteed.py               # 20 seeds, ~2 min on two cores
    .venv/bin/python bench/guaranteed.py --seeds 3 --scenarios S3
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from dialguard.sim import STANDARD, run_days, summarise
from dialguard.sim.results import GUARANTEED_TALK_TARGET, GUARANTEED_WRAP_CV


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--scenarios", default="S1,S2,S3")
    ap.add_argument("--wrap-cv", type=float, default=GUARANTEED_WRAP_CV)
    ap.add_argument("--ring-timeout", type=float, default=15.0)
    args = ap.parse_args(argv)
    ok = True
    print(
        f"{'scen':4} {'seeds':>5} {'ring':>4} {'wrap_cv':>7} {'talk':>6} {'worst':>6} "
        f"{'ceil':>6} {'target':>6} {'abandoned':>9} {'att/c':>5} {'wall':>6}  verdict"
    )
    for sc in args.scenarios.split(","):
        if sc not in STANDARD:
            ap.error(f"--scenarios: {sc!r} is not one of {sorted(STANDARD)}")
        w = replace(STANDARD[sc], wrap_cv=args.wrap_cv)
        t0 = time.perf_counter()
        days = run_days(
            w, "progressive", range(args.seeds), hours=args.hours, ring_timeout_s=args.ring_timeout
        )
        wall = time.perf_counter() - t0
        s = summarise(w, "progressive", days, cap=0.03, ring_timeout_s=args.ring_timeout)
        target = GUARANTEED_TALK_TARGET[sc]
        abandoned = sum(d.abandoned_all for d in days)
        good = s.talk_share >= target and abandoned == 0 and s.late_connects == 0
        ok = ok and good
        print(
            f"{sc:4} {s.seeds:5d} {s.ring_timeout_s:4g} {w.wrap_cv:7g} {s.talk_share:6.1%} "
            f"{s.talk_share_min:6.1%} {s.progressive_ceiling:6.1%} {target:6.1%} "
            f"{abandoned:9d} {s.attempts_per_contact:5.2f} {wall:5.1f}s  "
            + ("ok" if good else f"MISSED (abandons on seeds {s.seeds_with_abandons})")
        )
        sys.stdout.flush()
    print("\nall targets met" if ok else "\nsome targets missed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
