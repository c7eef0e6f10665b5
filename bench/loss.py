"""SIP loss on the trunk path, counted by the callee.

Runs the demo contact centre (engine, broker, desktops and the SIP simulator in one
process) at workload ``--profile`` with ``--loss`` of the SIP datagrams lost each way
(the simulator's ``sip_loss``; 503 storms are tests/e2e/test_faults.py's). Prints
the simulator's figures: live answers, connects, abandoned (silent and with the
message), the largest answer→agent wait, and how many datagrams were lost. The promise
under loss: nobody silent, every answered person reaches an agent or hears the message
within 2 s.

Bounded: ``--minutes`` of dialling, then a pause and a drain.

    .venv/bin/python bench/loss.py                       # 3 min, S1, 5 % loss
    .venv/bin/python bench/loss.py --loss 0.15 --minutes 5
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from dialguard.demo.centre import CentreOptions, LocalCentre
from dialguard.sip.simulator.profile import load_profile


async def run(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile).model_copy(update={"sip_loss": args.loss})
    centre = LocalCentre(
        CentreOptions(
            mode=args.mode,
            agents=args.agents,
            contacts=args.contacts,
            minutes=args.minutes,
            speedup=20.0,
            profile=profile,
            seed=args.seed,
            closed_share=0.0,
            drain_s=40.0,
        )
    )
    result = await centre.run()
    s = result.summary
    lost = centre.sim.lost_datagrams if centre.sim is not None else 0
    silent = sum(1 for r in result.records if r.silent)
    print(
        f"{args.profile} {args.mode}, {args.agents} agents, {args.minutes:g} min, "
        f"sip_loss {args.loss:.0%}:\n"
        f"  attempts {s['attempts']}  live answers {s['live_answers']}  "
        f"connected {s['connected']}\n"
        f"  abandoned {s['abandoned']} (silent {s['abandoned_silent']}, "
        f"message {s['abandoned_message']})  silent calls {silent}\n"
        f"  max answer→agent {s['max_answer_to_agent_s']} s  "
        f"cancelled before 15 s {s['cancelled_before_15s']}  datagrams lost {lost}"
    )
    return 1 if silent or s["abandoned_silent"] else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--profile", default="S1")
    ap.add_argument("--mode", choices=["progressive", "predictive"], default="progressive")
    ap.add_argument("--agents", type=int, default=5)
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    return asyncio.run(run(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
