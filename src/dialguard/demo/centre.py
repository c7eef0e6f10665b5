"""LocalCentre: broker + SIP trunk simulator + agent desktops + the real engine.

Everything talks over real sockets on 127.0.0.1: the engine reaches the simulator
through the sippy adapter (SIP/UDP, RTP), and agents reach the engine through the MQTT
broker. Each run uses its own topic prefix, so it never sees another run's retained
messages on a shared broker, and clears what it retained when it ends.

The result is judged from the simulator's records (what crossed the wire), plus two
cross-checks a regulator would make on those records: was any INVITE sent outside the
callee's calling window, and was any number on the do-not-call list dialled.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dialguard.config import (
    BrokerConfig,
    CampaignConfig,
    EngineConfig,
    MetricsConfig,
    Roster,
    StoreConfig,
    TrunkConfig,
    parse_campaign,
)
from dialguard.config.engine import EngineSection
from dialguard.demo.broker import BrokerHandle, find_or_start_broker
from dialguard.demo.desktops import AgentBehaviour, SimulatedAgent, make_agents, run_agents
from dialguard.demo.sample import WINDOW, SampleContact, sample_contacts
from dialguard.engine.engine import Engine
from dialguard.law import MAX_ABANDON_CAP
from dialguard.logs import get_logger
from dialguard.mqtt.client import make_client, send_request
from dialguard.mqtt.contract import ControlRequest, EngineStatus, Topics
from dialguard.rules import CallingWindow, candidate_zones, window_allows
from dialguard.sip import SippyTrunk
from dialguard.sip.simulator.profile import Profile
from dialguard.sip.simulator.records import CallRecord
from dialguard.sip.simulator.trunk import SimTrunk
from dialguard.store import NewContact, Store

log = get_logger(__name__)

Mode = Literal["progressive", "predictive"]
EXAMPLE_MESSAGE = Path(__file__).with_name("prompts") / "info-example.wav"
"""A spoken example information message (espeak-ng, 8 kHz µ-law, 13 s)."""


@dataclass
class CentreOptions:
    """What the demo (and an end-to-end test) runs."""

    mode: Mode = "progressive"
    agents: int = 5
    contacts: int = 300
    minutes: float = 2.0
    speedup: float = 10.0
    profile: str | Profile = "S1"
    seed: int = 1
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    wrap_s: float = 3.0
    dnc_share: float = 0.03
    closed_share: float = 0.1
    abandon_cap: float = MAX_ABANDON_CAP
    ring_timeout_s: float = 20.0
    drain_s: float = 30.0
    workdir: Path | None = None
    # where the engine's store lives (default: the workdir). A disk fault test puts only
    # the store on a small file system it fills: the callees' records (the simulator's
    # calls.jsonl) are the witness and must not share the engine's full disk.
    store_dir: Path | None = None
    numbers: list[str] | None = None  # exact numbers to load instead of a sample list
    start_engine: bool = True  # False: the test runs the engine itself (e.g. a subprocess)
    campaign_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tick:
    """What the live view shows once a second."""

    elapsed_s: float
    status: EngineStatus
    sim: dict[str, Any]


@dataclass
class CentreResult:
    summary: dict[str, Any]
    records: list[CallRecord]
    workdir: Path
    store_path: Path


def demo_campaign(opts: CentreOptions) -> CampaignConfig:
    start, end = (t.strftime("%H:%M") for t in WINDOW)
    data: dict[str, Any] = {
        "id": "demo",
        "name": "Demo renewals",
        "caller_id": "+12025550123",
        "information_message": str(EXAMPLE_MESSAGE),
        "information_text": (
            "This is Example Limited, calling about your renewal. Sorry, nobody is free to "
            "take your call. Please call us on 0800 123 4567. To stop our calls, press nine."
        ),
        "pacing": {
            "mode": opts.mode,
            "ring_timeout_s": opts.ring_timeout_s,
            "abandon_cap": opts.abandon_cap,
        },
        "calling_window": {
            "regime": "custom",
            "custom": [
                {
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "start": start,
                    "end": end,
                }
            ],
        },
        "retry": {
            "busy": {"delay_s": 60, "max_attempts": 3},
            "no_answer": {"delay_s": 90, "max_attempts": 3},
            "unavailable": {"delay_s": 60, "max_attempts": 3},
        },
        **opts.campaign_overrides,
    }
    return parse_campaign(data, "demo campaign")


def outside_window(records: list[CallRecord], window: CallingWindow) -> int:
    """INVITEs the simulator received outside the callee's calling window."""
    return sum(
        1
        for r in records
        if r.invite_wall
        and not window_allows(
            candidate_zones(r.number),
            window,
            dt.datetime.fromisoformat(r.invite_wall).timestamp(),
        )
    )


class LocalCentre:
    """Runs one demo contact centre; see the module docs."""

    def __init__(self, opts: CentreOptions) -> None:
        self.opts = opts
        self.prefix = f"dgdemo-{secrets.token_hex(4)}"
        self.campaign = demo_campaign(opts)
        self.broker: BrokerHandle | None = None
        self.sim: SimTrunk | None = None
        self.engine: Engine | None = None
        self.agents: list[SimulatedAgent] = []
        self.dnc_numbers: set[str] = set()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.workdir = Path(".")
        self.store_path = Path("dialguard.sqlite3")

    async def run(
        self,
        on_tick: Callable[[Tick], None] | None = None,
        on_started: Callable[[], Awaitable[None]] | None = None,
    ) -> CentreResult:
        """Start, dial for ``minutes``, pause, let calls finish, stop; the result.

        ``on_started`` runs once everything is up, before the campaign starts (the demo
        starts its web console there, on this centre's broker and store)."""
        try:
            await self.start()
            if on_started is not None:
                await on_started()
            await self.control("start")
            await self._watch(self.opts.minutes * 60, on_tick)
            await self.control("pause")
            await self.drain(self.opts.drain_s, on_tick)
        finally:
            await self.stop()
        return self.result()

    async def start(self) -> None:
        """Broker, simulator, store, engine and agents up; the campaign still paused."""
        opts = self.opts
        if opts.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dialguard-demo-")
            self.workdir = Path(self._tmp.name)
        else:
            self.workdir = opts.workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.store_path = (opts.store_dir or self.workdir) / "dialguard.sqlite3"
        self.broker = await find_or_start_broker(
            opts.broker_host, opts.broker_port, workdir=self.workdir / "mqtt"
        )
        self.sim = SimTrunk(
            opts.profile,
            host="127.0.0.1",
            port=0,
            seed=opts.seed,
            speedup=opts.speedup,
            records_path=self.workdir / "calls.jsonl",
        )
        await self.sim.start()
        await self._load_store(self.store_path)
        self.agents = make_agents(
            opts.agents,
            self.broker.url,
            topics=Topics(self.prefix),
            behaviour=AgentBehaviour(wrap_s=opts.wrap_s, heartbeat_s=5.0),
            seed=opts.seed,
        )
        self._tasks.append(asyncio.create_task(run_agents(self.agents), name="agents"))
        if opts.start_engine:
            await self.start_engine()

    async def start_engine(self) -> None:
        assert self.broker is not None
        cfg = self.engine_config()
        trunk = SippyTrunk(cfg.trunk.host, cfg.trunk.port, local_host="127.0.0.1")
        # The demo generates its roster: exactly the desktops it started, serving its
        # one campaign. A desktop it did not start is refused like anyone else.
        roster = Roster.of((a.agent_id for a in self.agents), groups=[self.campaign.agent_group])
        self.engine = Engine(cfg, [self.campaign], trunk, engine_id=self.prefix, roster=roster)
        self._tasks.append(asyncio.create_task(self.engine.run(), name="engine"))
        await asyncio.wait_for(self.engine.started.wait(), 30)
        if not await self.engine.link.wait_synced(15):
            raise RuntimeError(f"engine did not sync with the broker at {self.broker.url}")

    def result(self) -> CentreResult:
        records = self.sim.records if self.sim else []
        return CentreResult(self._summary(records), records, self.workdir, self.store_path)

    def engine_config(self) -> EngineConfig:
        """The engine's configuration for this centre (also written for `dialguard run`)."""
        assert self.broker is not None and self.sim is not None
        return EngineConfig(
            broker=BrokerConfig(
                url=self.broker.url, topic_prefix=self.prefix, client_id=self.prefix
            ),
            trunk=TrunkConfig(
                host="127.0.0.1",
                port=self.sim.port,
                agent_uri_template=f"sip:{{agent}}@127.0.0.1:{self.sim.port}",
            ),
            store=StoreConfig(path=self.store_path),
            metrics=MetricsConfig(enabled=False),
            engine=EngineSection(agent_stale_after_s=20, shutdown_grace_s=10, use_uvloop=False),
        )

    async def _load_store(self, path: Path) -> None:
        opts = self.opts
        if opts.numbers is not None:
            contacts = [SampleContact(n, f"Test {i}", "", True) for i, n in enumerate(opts.numbers)]
        else:
            contacts = sample_contacts(
                opts.contacts,
                dt.datetime.now(dt.UTC),
                seed=opts.seed,
                closed_share=opts.closed_share,
            )
        step = max(1, round(1 / opts.dnc_share)) if opts.dnc_share > 0 else 0
        self.dnc_numbers = {
            c.number for i, c in enumerate(contacts) if step and i % step == 7 % step
        }
        async with await Store.open(path) as store:
            await store.campaigns.upsert(
                self.campaign.id,
                self.campaign.name,
                self.campaign.model_dump_json(),
                state="paused",
                actor="demo",
            )
            await store.contacts.insert(
                self.campaign.id,
                [
                    NewContact(
                        number=c.number,
                        region="",
                        timezones=(c.zone,) if c.zone else candidate_zones(c.number),
                        name=c.name,
                    )
                    for c in contacts
                ],
            )
            if self.dnc_numbers:
                await store.dnc.add(
                    [(n, "demo: asked not to be called") for n in sorted(self.dnc_numbers)],
                    "internal",
                    None,
                )

    async def control(self, action: str) -> None:
        """Start/pause/resume/stop the campaign the way a supervisor does: over MQTT."""
        reply = await send_request(
            self.engine_config().broker,
            self.campaign.id,
            ControlRequest(request_id=secrets.token_hex(6), actor="demo", action=action),
            within_s=10,
        )
        if not reply.accepted:
            raise RuntimeError(f"engine refused {action}: {reply.reason}")

    async def _watch(self, seconds: float, on_tick: Callable[[Tick], None] | None) -> None:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            for t in self._tasks:
                if t.done() and t.exception() is not None:
                    raise RuntimeError(f"{t.get_name()} failed: {t.exception()!r}")
            self._tick(elapsed, on_tick)
            await asyncio.sleep(1.0)

    async def drain(self, seconds: float, on_tick: Callable[[Tick], None] | None) -> None:
        """After pausing: let ringing and connected calls end by themselves."""
        assert self.sim is not None
        started = time.monotonic()
        while time.monotonic() - started < seconds and self.sim.active_calls:
            self._tick(self.opts.minutes * 60 + time.monotonic() - started, on_tick)
            await asyncio.sleep(0.5)

    def _tick(self, elapsed: float, on_tick: Callable[[Tick], None] | None) -> None:
        if on_tick is None or self.engine is None or self.sim is None:
            return
        on_tick(Tick(elapsed, self.engine.status(), self.sim.summary().as_dict()))

    async def stop(self) -> None:
        """Stop the engine gracefully, then the agents, the simulator and the broker."""
        tasks = self._tasks
        if self.engine is not None:
            self.engine.request_stop()
        for t in tasks:
            if t.get_name() == "engine":
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(t, 30)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.sim is not None:
            await self.sim.wait_idle(5)
            await self.sim.stop()
        await self._clear_retained()
        if self.broker is not None:
            await self.broker.close()

    async def _clear_retained(self) -> None:
        """Leave a shared broker as we found it: no retained states of this run."""
        if self.broker is None:
            return
        topics = Topics(self.prefix)
        cfg = BrokerConfig(url=self.broker.url, topic_prefix=self.prefix)
        with contextlib.suppress(Exception):
            async with make_client(cfg, client_id=None) as client:
                for a in self.agents:
                    await client.publish(topics.agent_state(a.agent_id), b"", qos=1, retain=True)
                await client.publish(topics.engine_status, b"", qos=1, retain=True)

    def _summary(self, records: list[CallRecord]) -> dict[str, Any]:
        assert self.sim is not None
        s = self.sim.summary().as_dict()
        live = s["live_answers"]
        window = CallingWindow.from_config(self.campaign.calling_window)
        return {
            "mode": self.opts.mode,
            "agents": self.opts.agents,
            "attempts": s["attempts"],
            "live_answers": live,
            "voicemail_answers": s["voicemail_answers"],
            "connected": s["connected"],
            "abandoned": s["abandoned"],
            "abandoned_silent": s["abandoned_silent"],
            "abandoned_message": s["abandoned_message"],
            "abandon_rate": (s["abandoned"] / live) if live else 0.0,
            "abandon_cap": self.opts.abandon_cap,
            "cancelled": s["cancelled"],
            "cancelled_before_15s": s["cancelled_before_15s"],
            "min_ring_before_cancel_s": s["min_ring_before_cancel_s"],
            "outside_window": outside_window(records, window),
            "dnc_dialled": sum(1 for r in records if r.number in self.dnc_numbers),
            "opted_out": s["opted_out"],
            "busy": s["busy"],
            "max_answer_to_agent_s": s["max_answer_to_agent_s"],
            "max_answer_to_audio_s": s["max_answer_to_audio_s"],
            "in_progress_at_end": s["in_progress"],
        }
