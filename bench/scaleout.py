"""Scale-out on PostgreSQL, measured on the wire: 1, 2 and 3 daemons sharing 3 campaigns.

For each node count a fresh database is created and dropped afterwards, with three
active campaigns (``c1``..``c3``, disjoint contacts, each served by its own agent group)
and one LocalCentre in this process (broker, the SIP trunk simulator, the agent
desktops). The daemons are real subprocesses (`python -m dialguard run`), each with its
own client id on the same ``store.url``; the campaigns' leases spread them out.

Once every campaign is leased and dialling, INVITEs are counted for ``--window-s``
(combined throughput). With two or more nodes, the node holding most campaigns is then
SIGKILLed: the time until each of its campaigns has a new holder *and* a new attempt row
is its "resumed" time (the target is lease expiry + 5 s). After a short run on, the
survivors stop with SIGTERM and the store is checked against the simulator's records:

- **lost**: INVITEs the trunk saw with no attempt row for their number (must be 0);
- **dialled twice**: numbers the trunk saw more than once (must be 0; no retry rule
  fires within a run this short), and of those, on the wire at once;
- **left open**: attempt rows with no outcome after the final clean stop (must be 0).

Bounded: each phase has its own limit (leases up ≤ 60 s, window, resume ≤ TTL + 30 s,
drain ≤ 30 s). Exits 1 if anything is lost, dialled twice or left open.

    .venv/bin/python bench/scaleout.py                 # 1, 2 and 3 nodes
    .venv/bin/python bench/scaleout.py --nodes 2 --window-s 20 --agents-per-campaign 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _daemon import overlapping, until
from dialguard.demo.centre import CentreOptions, LocalCentre
from dialguard.demo.daemon import engine_toml, start_daemon
from dialguard.demo.sample import sample_contacts
from dialguard.rules import candidate_zones
from dialguard.sip.simulator.profile import Profile, Shares, fixed, uniform
from dialguard.store import NewContact, Store

CAMPAIGNS = ("c1", "c2", "c3")
QUICK = Profile(
    name="scaleout-quick",
    shares=Shares(live=0.4, busy=0.5, unavailable=0.1),
    post_dial_delay_s=uniform(0.2, 0.6),
    ring_to_answer_s=uniform(0.5, 1.5),
    busy_after_s=uniform(0.2, 0.6),
    unavailable_after_s=uniform(0.2, 0.6),
    talk_s=fixed(20.0),
)
"""Short calls (talk 20 s / speedup), so the daemons, not the callees, set the pace."""
ADMIN_URL = os.environ.get("DIALGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A new database on the server at ADMIN_URL, dropped (connections and all) after."""
    import psycopg

    name = f"dialguard_bench_{secrets.token_hex(5)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def group_of(index: int) -> str:
    return f"g{index % len(CAMPAIGNS) + 1}"


def write_files(centre: LocalCentre, work: Path, url: str, nodes: int, ttl: float) -> list[Path]:
    """Campaign files and roster shared by every node; one engine file per node."""
    campaigns = work / "campaigns"
    campaigns.mkdir(exist_ok=True)
    for i, cid in enumerate(CAMPAIGNS):
        (campaigns / f"{cid}.toml").write_text(
            f"""
id = "{cid}"
name = "Scale-out {cid}"
caller_id = "+12025550123"
agent_group = "{group_of(i)}"
[pacing]
mode = "progressive"
ring_timeout_s = 20
[calling_window]
regime = "none"
"""
        )
    roster = work / "agents.toml"
    roster.write_text(
        "".join(
            f'[[agent]]\nid = "{a.agent_id}"\ngroups = ["{group_of(i)}"]\n\n'
            for i, a in enumerate(centre.agents)
        )
    )
    configs = []
    base = engine_toml(centre, campaigns_dir=campaigns, agents_file=roster)
    client_id = centre.engine_config().broker.client_id
    store_path = str(centre.engine_config().store.path)
    for n in range(nodes):
        text = base.replace(f'client_id = "{client_id}"', f'client_id = "{client_id}-n{n + 1}"')
        text = text.replace(f'path = "{store_path}"', f'url = "{url}"\nlease_ttl_s = {ttl}')
        config = work / f"node{n + 1}.toml"
        config.write_text(text)
        configs.append(config)
    return configs


async def seed(url: str, per_campaign: int, seed_no: int) -> None:
    contacts = sample_contacts(
        per_campaign * len(CAMPAIGNS), dt.datetime.now(dt.UTC), seed=seed_no, closed_share=0.0
    )
    async with await Store.open(url) as store:
        for i, cid in enumerate(CAMPAIGNS):
            await store.campaigns.upsert(cid, cid, "{}", state="active", actor="bench")
            mine = contacts[i :: len(CAMPAIGNS)]
            await store.contacts.insert(
                cid,
                [
                    NewContact(
                        number=c.number,
                        region="",
                        timezones=(c.zone,) if c.zone else candidate_zones(c.number),
                        name=c.name,
                    )
                    for c in mine
                ],
            )


@dataclass
class Outcome:
    nodes: int
    per_s: float
    invites: int
    lost: int
    twice: int
    overlapping: int
    left_open: int
    resumed_s: float | None
    killed_campaigns: tuple[str, ...]

    def line(self, ttl: float) -> str:
        kill = "no kill (one node)"
        if self.killed_campaigns:
            resumed = "NOT resumed" if self.resumed_s is None else f"{self.resumed_s:.1f} s"
            kill = (
                f"SIGKILL of the holder of {','.join(self.killed_campaigns)}: resumed "
                f"elsewhere after {resumed} (target ≤ {ttl + 5:.0f} s)"
            )
        return (
            f"{self.nodes} node(s): {self.per_s:5.1f} INVITE/s combined; {self.invites} INVITEs,"
            f" lost {self.lost}, dialled twice {self.twice} ({self.overlapping} at once),"
            f" left open {self.left_open}; {kill}"
        )


async def holders(store: Store) -> dict[str, str]:
    now = time.time()
    return {x.campaign_id: x.owner for x in await store.leases.all() if x.expires_at > now}


async def latest_attempt(store: Store, cid: str, since: float) -> bool:
    return bool(await store.attempts.of_campaign(cid, since, time.time() + 3600))


async def scenario(args: argparse.Namespace, nodes: int) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix=f"dialguard-scaleout-{nodes}-"))
    centre = LocalCentre(
        CentreOptions(
            agents=args.agents_per_campaign * len(CAMPAIGNS),
            contacts=1,
            speedup=args.speedup,
            profile=QUICK,
            wrap_s=args.wrap_s,
            seed=args.seed,
            workdir=work,
            start_engine=False,
            dnc_share=0.0,
            closed_share=0.0,
        )
    )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    killed: tuple[str, ...] = ()
    resumed_s: float | None = None
    with scratch_database() as url:
        await seed(url, args.contacts_per_campaign, args.seed)
        try:
            await centre.start()
            sim = centre.sim
            assert sim is not None
            configs = write_files(centre, work, url, nodes, args.ttl)
            client_id = centre.engine_config().broker.client_id
            for n, config in enumerate(configs):
                procs[f"{client_id}-n{n + 1}"] = start_daemon(config, work / f"node{n + 1}.log")
            async with await Store.open(url) as store:
                up_by = time.monotonic() + 60
                while True:  # every campaign leased, every node with one, all dialling
                    held = await holders(store)
                    if len(held) == len(CAMPAIGNS) and len(set(held.values())) == nodes:
                        break
                    for name, p in procs.items():
                        if p.poll() is not None:
                            raise SystemExit(f"{name} exited {p.returncode}; see {work}")
                    if time.monotonic() > up_by:
                        raise SystemExit(f"leases not spread within 60 s: {held}")
                    await asyncio.sleep(0.2)
                await asyncio.sleep(args.warmup_s)
                before, t0 = len(sim.records), time.monotonic()
                await asyncio.sleep(args.window_s)
                per_s = (len(sim.records) - before) / (time.monotonic() - t0)
                if nodes > 1:
                    held = await holders(store)
                    victim = Counter(held.values()).most_common(1)[0][0]
                    killed = tuple(sorted(c for c, o in held.items() if o == victim))
                    killed_at, t_kill = time.time(), time.monotonic()
                    procs[victim].send_signal(signal.SIGKILL)
                    await asyncio.to_thread(procs[victim].wait, 10)
                    del procs[victim]
                    deadline = t_kill + args.ttl + 30
                    while time.monotonic() < deadline:
                        held = await holders(store)
                        moved = all(held.get(c) not in (None, victim) for c in killed)
                        if moved and all(
                            [await latest_attempt(store, c, killed_at) for c in killed]
                        ):
                            resumed_s = time.monotonic() - t_kill
                            break
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(args.after_kill_s)
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for name, p in procs.items():
                code = await asyncio.to_thread(p.wait, 60)
                if code != 0:
                    print(f"  {name} exited {code} on SIGTERM; log in {work}", flush=True)
            procs.clear()
            await until(lambda: not sim.active_calls, 30)
        finally:
            for p in procs.values():
                p.kill()
                p.wait(10)
            await centre.stop()
        records = centre.result().records
        async with await Store.open(url) as store:
            attempts = [
                a
                for c in CAMPAIGNS
                for a in await store.attempts.of_campaign(c, 0, time.time() + 3600)
            ]
    invites = Counter(r.number for r in records)
    rows = Counter(a.number for a in attempts)
    for a in attempts:
        if a.outcome is None:  # say which, so it can be traced in the nodes' logs
            times = {
                k: getattr(a, k) for k in ("created_at", "invite_at", "answered_at", "ended_at")
            }
            print(f"  left open: attempt {a.id} of {a.campaign_id} {times}; logs in {work}")
    return Outcome(
        nodes=nodes,
        per_s=per_s,
        invites=len(records),
        lost=sum(max(0, n - rows[num]) for num, n in invites.items()),
        twice=sum(1 for n in invites.values() if n > 1),
        overlapping=overlapping(records),
        left_open=sum(1 for a in attempts if a.outcome is None),
        resumed_s=resumed_s,
        killed_campaigns=killed,
    )


async def run(args: argparse.Namespace) -> int:
    results = []
    for nodes in args.nodes:
        print(f"-- {nodes} node(s) ...", flush=True)
        out = await scenario(args, nodes)
        print("  " + out.line(args.ttl), flush=True)
        results.append(out)
    print(
        f"\nscale-out on PostgreSQL, 3 campaigns, {args.agents_per_campaign} agents each,"
        f" window {args.window_s:.0f} s, lease TTL {args.ttl:.0f} s:"
    )
    for out in results:
        print("  " + out.line(args.ttl))
    bad = any(o.lost or o.twice or o.left_open for o in results)
    late = any(o.killed_campaigns and o.resumed_s is None for o in results)
    return 1 if bad or late else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--nodes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    ap.add_argument("--agents-per-campaign", type=int, default=10)
    ap.add_argument("--contacts-per-campaign", type=int, default=3000)
    ap.add_argument("--window-s", type=float, default=20.0)
    ap.add_argument("--warmup-s", type=float, default=3.0)
    ap.add_argument("--after-kill-s", type=float, default=5.0)
    ap.add_argument("--ttl", type=float, default=5.0, help="store.lease_ttl_s of every node")
    ap.add_argument("--speedup", type=float, default=20.0)
    ap.add_argument("--wrap-s", type=float, default=0.5, help="agents' wrap-up after a call")
    ap.add_argument("--seed", type=int, default=1)
    return asyncio.run(run(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
