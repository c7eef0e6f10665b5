"""The engine: one asyncio process that runs every campaign.

It owns the store, the broker link, the trunk adapter and the metrics listener, and
does little else (the aioquic shape): route agent changes to the campaign that owns the
agent, answer supervisor requests, publish a status snapshot, recover after a crash and
shut down without leaving a call half-open.

Recovery on start (docs/design.md "Persistence"): every attempt left open by a crash is
closed as ``interrupted`` and its contact waits the ``interrupted`` retry delay, so a
restart never dials anyone twice by accident; contacts left ``in_progress`` with no
attempt (a crash between picking and writing) go back to ``pending``.

Several nodes on one PostgreSQL store (``store.url``): each campaign runs on the one
node holding its lease (:mod:`dialguard.store.leases`). A lease keeper renews this node's
leases every third of their lifetime, takes its fair share of the free or expired ones
(:mod:`dialguard.engine.leasing`) and drains the ones it must hand over. A campaign
taken is reconciled first — its open attempts (left by the node that died) closed as
``interrupted``, its orphaned claims released — and only that campaign: recovery never
touches another node's calls. Its runner writes through a fenced store, so once another
node holds the lease nothing this node writes for it (the attempt row before an INVITE
included) lands. An agent is served by the node holding its home campaign. On SQLite
the engine runs every campaign, under the file's engine lock.

Agents and campaigns: only agents on the roster (``engine.agents_file``, or the
``roster`` given) are believed, and the roster says which campaigns each may serve (by
campaign id or ``agent_group``) and where its calls are transferred. An agent belongs to
one campaign at a time — the first running campaign it may serve to hear of it
(least-loaded first) — so two pacers can never reserve the same person. A stopped
campaign gives its agents back to the others. SIGHUP re-reads the roster.

Structured concurrency: the broker link, the store writer, the status publisher and
every campaign runner are children of one :class:`asyncio.TaskGroup`. A part that
raises marks the engine crashed (``/healthz`` fails), hangs up what is still up, and
:meth:`Engine.run` raises, so the daemon exits non-zero and its supervisor restarts it
(recovery then closes what the crash left open).

Broker outages (docs/design.md "Ordering"): losing the link stops new dials but keeps every
reservation, because the transfer goes over SIP. When a broker shuts down, the agents'
will messages (``offline``) reach us just before the link drops; an ``offline`` from a
will is therefore held for :data:`WILL_GRACE_S` before the pacer hears it, and dropped
if the link goes down meanwhile. The agent gets no new call while it is held. Agents
not re-confirmed by the resync after an outage are then reported offline.

Wrap-up contract: when a campaign sets ``wrap_up_cap_s``, an agent that reports
``wrap`` is counted ``ready`` at the cap unless it reports anything else first (a
pause); its desktop is told the cap in the ``ended`` call event and gets
``wrap_up_ended`` when it is reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from dialguard.config import (
    CampaignConfig,
    ConfigError,
    EngineConfig,
    PacingConfig,
    Roster,
    load_campaigns,
    load_roster,
)
from dialguard.engine.agents import AgentChange, AgentRegistry, Rejected
from dialguard.engine.calls import AbandonReason
from dialguard.engine.leasing import home_campaign, plan
from dialguard.engine.metrics import EngineMetrics, MetricsServer
from dialguard.engine.mqtt import BrokerLink, EngineLink, LinkFactory, LinkHandlers
from dialguard.engine.ownership import after_live_change, resolve
from dialguard.engine.runner import CampaignRunner, RunnerDeps
from dialguard.engine.trunk_health import TrunkBreaker
from dialguard.engine.writes import StoreWrites
from dialguard.logs import get_logger, mask_number
from dialguard.mqtt.client import BrokerLinkDown
from dialguard.mqtt.contract import (
    AgentCallMessage,
    AgentStatus,
    ControlReply,
    ControlRequest,
    Disposition,
    EngineStatus,
    PacingChangeRequest,
)
from dialguard.pacing.admission import Admission
from dialguard.pacing.events import AgentChanged, UnseenAnswer
from dialguard.sip.api import Prompt, Trunk
from dialguard.store import CampaignState, Store
from dialguard.store.engine_lock import EngineLock
from dialguard.store.leases import Lease, LeaseLost
from dialguard.store.store import is_postgres_url

log = get_logger(__name__)

STATUS_EVERY_S = 1.0
LAG_PROBE_S: Final = 0.05
"""How often the loop-lag probe fires: lag shows within one probe of arising."""
ORPHAN_REASON: Final[AbandonReason] = "answered_after_restart"
WILL_GRACE_S: Final = 2.0
"""How long an agent's ``offline`` (its will) waits before the pacer hears it: a broker
that shuts down sends every will just before it drops our link, and a link loss keeps
reservations. Long enough for the loss to be seen on a loaded machine; the agent gets
no new call meanwhile, and an answered call still hears a person or the message in 2 s
(the transfer fails over SIP, or the hard deadline starts the message)."""
_TRANSITIONS: dict[str, dict[str, CampaignState]] = {
    # action → {from state → to state}
    "start": {"paused": "active", "stopped": "active"},
    "resume": {"paused": "active"},
    "pause": {"active": "paused"},
    "stop": {"active": "stopped", "paused": "stopped"},
}


def _replaced_by(pacing: PacingConfig) -> Callable[[PacingConfig], PacingConfig]:
    """A pacing change that replaces the whole section (a reloaded campaign file)."""
    return lambda _old: pacing


def _check_runnable(campaign: CampaignConfig, pacing: PacingConfig) -> None:
    """Raise ValueError for a pacing this campaign cannot run (beyond PacingConfig's own
    legal checks)."""
    if pacing.mode == "predictive" and campaign.information_message is None:
        raise ValueError(
            "mode = predictive: this campaign has no information_message, and "
            "over-dialled calls must hear one"
        )


def _load_prompt(campaign: CampaignConfig) -> Prompt:
    from dialguard.sip.prompt import default_prompt, load_prompt

    if campaign.information_message is None:
        return default_prompt()
    return load_prompt(Path(campaign.information_message))


class Engine:
    """Runs the campaigns it is given until :meth:`request_stop` or a signal."""

    def __init__(
        self,
        cfg: EngineConfig,
        campaigns: list[CampaignConfig],
        trunk: Trunk,
        *,
        engine_id: str | None = None,
        metrics_enabled: bool | None = None,
        wall: Callable[[], float] = time.time,
        link: LinkFactory | None = None,
        roster: Roster | None = None,
    ) -> None:
        """``roster``: the agents the engine believes; by default read from
        ``engine.agents_file`` (none configured: nobody is accepted)."""
        self.cfg = cfg
        self.campaign_configs = {c.id: c for c in campaigns}
        self.trunk = trunk
        self.wall = wall
        self.engine_id = engine_id or cfg.broker.client_id
        self.metrics = EngineMetrics()
        self._metrics_enabled = cfg.metrics.enabled if metrics_enabled is None else metrics_enabled
        self.metrics_server: MetricsServer | None = None
        if roster is None:
            roster = load_roster(cfg.engine.agents_file)
        if not roster:
            log.warning(
                "the agent roster is empty: no agent will be accepted (set engine.agents_file)",
                agents_file=str(cfg.engine.agents_file),
            )
        self.registry = AgentRegistry(stale_after_s=cfg.engine.agent_stale_after_s, roster=roster)
        handlers = LinkHandlers(
            on_control=self._on_control,
            on_pacing=self._on_pacing,
            on_disposition=self._on_disposition,
            on_agent_changes=[self._on_agent_changes],
            on_resync=[self._on_resync],
            on_rejected=[self._on_rejected],
        )
        self.link: EngineLink = (
            link(self.registry, handlers)
            if link is not None
            else BrokerLink(
                cfg.broker, self.registry, handlers=handlers, engine_id=self.engine_id, wall=wall
            )
        )
        self.store: Store | None = None
        self.runners: dict[str, CampaignRunner] = {}
        self._owner: dict[str, str] = {}  # agent → campaign id
        self.writes = StoreWrites()
        self.admission = Admission(cfg.admission.params())
        self.trunk_health = TrunkBreaker()
        self._held_wills: dict[str, asyncio.TimerHandle] = {}
        self._kept_over_outage: set[str] = set()
        self._wrap_timers: dict[str, asyncio.TimerHandle] = {}
        self._last_call: dict[str, tuple[str, str]] = {}  # agent → (call id, campaign)
        self._state_since: dict[str, tuple[tuple[str, bool], float]] = {}  # for the status
        self._tg: asyncio.TaskGroup | None = None
        self._stop = asyncio.Event()
        self.started = asyncio.Event()
        self.crashed: str | None = None
        self.recovered: list[int] = []
        self._lock: EngineLock | None = None
        # A shared (PostgreSQL) store: the campaigns this node holds and how it sees all.
        self._shared = False
        self._leases: dict[str, Lease] = {}
        self._lease_view: list[Lease] = []
        self._settled: dict[str, tuple[CampaignConfig, CampaignState]] = {}
        self._handovers: set[str] = set()

    # --- lifecycle --------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Start everything, run until asked to stop, then shut down gracefully.

        Raises if a part of the engine crashed (after hanging up what was still up)."""
        location = self.cfg.store.location
        if not is_postgres_url(location):
            # One engine per store file (raises StoreInUse naming the holder): two would
            # dial the same contacts and recover each other's live calls.
            self._lock = EngineLock.acquire(self.cfg.store.path, self.engine_id)
        try:
            self.store = await Store.open(location, password=self.cfg.store.secret)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self._shared = self.store.shared
        try:
            await self._register_campaigns()
            if not self._shared:
                await self._recover()
            self.trunk.on_orphan_answer(self._orphan_answered)
            await self.trunk.start()
            if self._metrics_enabled:
                self.metrics_server = MetricsServer(
                    self.metrics, self.health, self.cfg.metrics.host, self.cfg.metrics.port
                )
                await self.metrics_server.start()
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                forever = [
                    tg.create_task(self._part("broker-link", self.link.run())),
                    tg.create_task(self._part("store-writes", self.writes.run())),
                    tg.create_task(self._part("status", self._publish_status())),
                    tg.create_task(self._part("loop-lag", self._probe_loop_lag())),
                ]
                if self._shared:
                    forever.append(tg.create_task(self._part("leases", self._keep_leases())))
                for runner in self.runners.values():
                    tg.create_task(self._part(f"campaign-{runner.campaign.id}", runner.run()))
                log.info(
                    "engine started",
                    engine=self.engine_id,
                    campaigns=[f"{r.campaign.id}:{r.state}" for r in self.runners.values()],
                    store=str(self._store.path),
                )
                self.started.set()
                await self._stop.wait()
                await self._drain()
                for t in forever:
                    t.cancel()
        finally:
            self._tg = None
            await self._shutdown()

    async def _part(self, name: str, work: Awaitable[None]) -> None:
        """Run one part of the engine; if it raises, the engine is crashed."""
        try:
            await work
        except Exception as e:
            if self.crashed is None:
                self.crashed = f"{name}: {e!r}"
            log.exception("engine part crashed; stopping the daemon", part=name)
            raise

    async def _probe_loop_lag(self) -> None:
        """Feed admission control how late the loop runs a timer: the delay every
        answered call's connect also waits behind (pacing.admission)."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_PROBE_S
            await asyncio.sleep(LAG_PROBE_S)
            now = loop.time()
            self.admission.observe("loop_lag", now - due, now)
            self.metrics.admission_window.set(self.admission.window)

    async def _drain(self) -> None:
        """Graceful stop: no new dials, calls finish within the grace period (else are
        hung up), their records are written, then the runners' loops end."""
        grace = self.cfg.engine.shutdown_grace_s
        log.info("engine stopping", grace_s=grace)
        await asyncio.gather(*(r.stop(grace) for r in self.runners.values()))
        await self.writes.drain(5.0)

    async def _shutdown(self) -> None:
        for handle in [*self._held_wills.values(), *self._wrap_timers.values()]:
            handle.cancel()
        try:
            # Not under a timeout: the adapter bounds its own stop (ring floor, drain),
            # and a cancelled stop could leave a CANCEL or BYE unsent.
            await self.trunk.stop()
        except Exception:
            log.exception("trunk stop failed")
        # A clean disconnect fires no will: say ourselves that this engine is gone, so
        # `dialguard status` reports the stop at once rather than after it goes stale.
        try:
            final = self.status().model_copy(
                update={"broker_connected": False, "agents_synced": False}
            )
            await asyncio.wait_for(self.link.publish_status(final), 2)
        except Exception as e:  # the broker may be the reason we stop
            log.info("final status not published", error=repr(e))
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        if self.store is not None:
            if self._shared:
                try:
                    await self.store.leases.leave(self.engine_id)
                except Exception as e:  # the others see our heartbeat expire instead
                    log.warning("node_leave_unrecorded", error=repr(e))
            await self.store.close()
        if self._lock is not None:
            self._lock.release()
        if self.crashed:
            log.error("engine stopped after a crash", crashed=self.crashed)
        else:
            log.info("engine stopped")

    async def _recover(self) -> None:
        """Close what a crash left open; nothing is dialled twice by accident.

        Runs after the runners exist, so each interrupted contact is settled by its
        campaign's own retry policy; contacts of campaigns no longer configured go back to
        pending, and the retry rule on their history still holds them back.
        """
        self.recovered = await self._reconcile(self._store, None)

    async def _reconcile(self, store: Store, campaign_id: str | None) -> list[int]:
        """Close the open attempts (of one campaign, or all) as ``interrupted``, settle
        their contacts by their campaign's retry policy, release orphaned claims."""
        now = self.wall()
        open_before = await store.attempts.unsettled(campaign_id)
        recovered = await store.attempts.interrupt_unsettled(now, campaign_id)
        for a in open_before:
            runner = self.runners.get(a.campaign_id)
            if a.contact_id is not None and runner is not None:
                await runner.picker.settle(a.contact_id, "interrupted", now)
        released = await store.contacts.release_orphans(campaign_id)
        if recovered or released:
            log.warning(
                "recovered interrupted attempts",
                campaign=campaign_id or "all",
                count=len(recovered),
                contacts_released=released,
            )
        return recovered

    async def _settle(self, cfg: CampaignConfig) -> CampaignConfig:
        """The campaign as it runs: the file, with the pacing fields a supervisor set live
        that the file has not changed since (engine.ownership); each settlement is logged
        and audited, so the audit says which source won."""
        store = self._store
        overrides = await store.campaigns.pacing_overrides(cfg.id)
        if not overrides:
            return cfg
        res = resolve(cfg.pacing, overrides, lambda p: _check_runnable(cfg, p))
        for s in res.settlements:
            action = f"settings.{s.outcome}"
            if s.outcome == "conflict":
                log.warning("campaign_settings_conflict", campaign=cfg.id, detail=s.sentence())
            else:
                log.info("campaign_settings", campaign=cfg.id, detail=s.sentence())
            await store.audit.record(
                "file",
                action,
                campaign_id=cfg.id,
                old={s.override.field: s.file_value},
                new={s.override.field: s.override.value if s.outcome == "kept" else s.file_value},
                detail=f"{s.winner} wins: {s.sentence()}",
            )
        await store.campaigns.save_pacing_overrides(cfg.id, res.overrides.values())
        return cfg.model_copy(update={"pacing": res.pacing})

    def _orphan_answered(self, call_id: str) -> None:
        """Someone answered a call the process before a crash placed; the adapter has
        ACKed and hung up (nobody here holds that dialog). They heard silence: record
        the attempt as answered and abandoned, so the report and the governor count it."""
        log.warning(
            "answered_after_restart",
            call_id=call_id,
            note="a call placed before the restart was answered; hung up, counted as abandoned",
        )
        self.writes.submit(f"orphan answer {call_id}", lambda: self._record_orphan(call_id))

    async def _record_orphan(self, call_id: str) -> None:
        store = self._store
        attempt = await store.attempts.by_call_id(call_id)
        if attempt is None:  # the INVITE's Call-ID never reached the store before the crash
            log.error("answered_after_restart_unrecorded", call_id=call_id)
            return
        answered_at = attempt.answered_at
        if answered_at is None:
            answered_at = self.wall()
            await store.attempts.mark_answered(attempt.id, answered_at)
        await store.attempts.mark_abandoned(attempt.id, ORPHAN_REASON)
        self.metrics.abandoned.labels(attempt.campaign_id, ORPHAN_REASON).inc()
        # The running governor counts it now (its seed was read before this answer);
        # a runner started after this write also reads it in its seed, which can only
        # count it twice, erring towards less over-dial.
        runner = self.runners.get(attempt.campaign_id)
        if runner is not None:
            runner.report(UnseenAnswer(answered_at, True, self.wall()))

    async def _register_campaigns(self) -> None:
        store = self._store
        for cid, file_cfg in self.campaign_configs.items():
            cfg = await self._settle(file_cfg)
            record = await store.campaigns.upsert(
                cid, cfg.name, cfg.model_dump_json(), actor="file"
            )
            state: CampaignState = record.state  # type: ignore[assignment]
            if not cfg.enabled:
                state = "stopped"
            if self._shared:
                self._settled[cid] = (cfg, state)  # a runner starts when its lease is ours
                continue
            self.runners[cid] = self._new_runner(cfg, state, store)

    def _new_runner(
        self, cfg: CampaignConfig, state: CampaignState, store: Store
    ) -> CampaignRunner:
        deps = RunnerDeps(
            store=store,
            trunk=self.trunk,
            metrics=self.metrics,
            publish_agent=self._publish_call,
            agent_uri=self._agent_uri,
            prompt=_load_prompt(cfg),
            writes=self.writes,
            trunk_health=self.trunk_health,
            dialling_allowed=lambda: self.link.dialling_allowed,
            agent_available=self._agent_available,
            wall=self.wall,
            admission=self.admission,
            national_lists=self.cfg.national_lists(),
        )
        runner = CampaignRunner(deps, cfg, state)
        runner.picker.handoffs.publish = self.link.publish_handoff  # issue 15: once each
        return runner

    # --- leases (a shared store) ----------------------------------------------------

    async def _keep_leases(self) -> None:
        """Renew, take and hand over campaign leases every third of their lifetime."""
        ttl = self.cfg.store.lease_ttl_s
        while True:
            try:
                await self._lease_turn(ttl)
            except Exception as e:  # the store is unreachable: leases run out on their own
                log.warning("lease_turn_failed", error=repr(e))
                now = self.wall()
                for cid, lease in list(self._leases.items()):
                    if lease.expires_at <= now:
                        self._lose(cid, "not renewed before its expiry")
            await asyncio.sleep(ttl / 3)

    async def _lease_turn(self, ttl: float) -> None:
        store = self._store
        await store.leases.heartbeat(self.engine_id, ttl)
        for cid, lease in list(self._leases.items()):
            try:
                self._leases[cid] = await store.leases.renew(lease, ttl)
            except LeaseLost as e:
                self._lose(cid, str(e))
        if self._stop.is_set():
            return
        self._lease_view = await store.leases.all()
        todo = plan(
            sorted(self._settled),
            set(self._leases),
            self._lease_view,
            await store.leases.live_nodes(),
            self.engine_id,
            self.wall(),
        )
        for cid in todo.give_up:
            runner = self.runners.get(cid)
            if runner is not None and cid not in self._handovers and self._tg is not None:
                self._handovers.add(cid)
                log.info("campaign_handing_over", campaign=cid, node=self.engine_id)
                self._tg.create_task(runner.stop(self.cfg.engine.shutdown_grace_s))
        for cid in todo.take:
            taken = await store.leases.acquire(cid, self.engine_id, ttl)
            if taken is not None:
                await self._take(taken)

    async def _take(self, lease: Lease) -> None:
        """Run a campaign whose lease this node just acquired: reconcile what the last
        holder left open, then start its runner on a store fenced by the lease."""
        cid = lease.campaign_id
        cfg, state = self._settled[cid]
        fenced = self._store.fenced(lease)
        record = await fenced.campaigns.get(cid)
        if record is not None and cfg.enabled:
            state = record.state  # type: ignore[assignment]  # a supervisor's, on any node
        runner = self._new_runner(cfg, state, fenced)
        self._leases[cid] = lease
        self._lease_view = [x for x in self._lease_view if x.campaign_id != cid] + [lease]
        try:
            recovered = await self._reconcile(fenced, cid)
        except BaseException:
            self._leases.pop(cid, None)  # it runs out; the next holder reconciles
            raise
        # Visible (to agents, control requests, status) only once what the last holder
        # left open is closed: CI saw the runner listed while its reconcile still ran.
        self.runners[cid] = runner
        self.recovered.extend(recovered)
        assert self._tg is not None
        self._tg.create_task(self._run_leased(runner, lease))
        log.info(
            "campaign_taken", campaign=cid, node=self.engine_id, fence=lease.token,
            state=state, recovered=len(recovered),
        )  # fmt: skip
        for a in self.registry.snapshot():
            agent_state = self.registry.effective_state(a.agent)
            if (
                agent_state is not None
                and a.agent not in self._owner
                and self._runner_for(a.agent) is runner
            ):
                runner.report(AgentChanged(a.agent, agent_state))

    def _lose(self, cid: str, why: str) -> None:
        """The lease is gone (another node took it, or it ran out): stop dialling at once
        and hang up; the records this node can no longer write are the new holder's to
        reconcile."""
        self._leases.pop(cid, None)
        runner = self.runners.get(cid)
        log.error("campaign_lease_lost", campaign=cid, node=self.engine_id, why=why)
        if runner is not None and self._tg is not None:
            self._tg.create_task(runner.stop(0.0))

    async def _run_leased(self, runner: CampaignRunner, lease: Lease) -> None:
        cid = runner.campaign.id
        try:
            await self._part(f"campaign-{cid}", runner.run())
        finally:
            if self.runners.get(cid) is runner:
                del self.runners[cid]
            for agent in [a for a, owner in self._owner.items() if owner == cid]:
                del self._owner[agent]
            self._handovers.discard(cid)
            held = self._leases.pop(cid, None)
            if held is not None and held.token == lease.token:
                try:
                    await self._store.leases.release(held)
                    log.info("campaign_released", campaign=cid, node=self.engine_id)
                except Exception as e:  # it expires by itself
                    log.warning("lease_release_failed", campaign=cid, error=repr(e))

    @property
    def _store(self) -> Store:
        assert self.store is not None, "engine not started"
        return self.store

    # --- agents -----------------------------------------------------------------------

    def _agent_uri(self, agent: str) -> str:
        """Where the agent's calls go: its roster entry's URI, else the template."""
        member = self.registry.member(agent)
        if member is not None and member.sip_uri is not None:
            return member.sip_uri
        return self.cfg.trunk.agent_uri(agent)

    def _on_rejected(self, rejected: Rejected) -> None:
        self.metrics.agent_states_ignored.labels(rejected.reason).inc()

    def _agent_available(self, agent: str) -> bool:
        """May ``agent`` get a new call now? (Checked at each launch: fail closed.)"""
        return agent not in self._held_wills and self.registry.is_available(agent, self.link.now())

    def _on_agent_changes(self, changes: list[AgentChange]) -> None:
        for ch in changes:
            held = self._held_wills.pop(ch.agent, None)
            if held is not None:  # a newer change for this agent supersedes a held will
                held.cancel()
            if ch.reason == "link_down":
                # Fail closed without abandoning: no new dials while the link is down
                # (runners check dialling_allowed), but reservations for calls already
                # ringing stand — the transfer goes over SIP, not MQTT. Wills that came
                # with the loss are dropped for the same reason.
                self._kept_over_outage.add(ch.agent)
                continue
            self._kept_over_outage.discard(ch.agent)
            if ch.reason == "message" and ch.new == "offline" and ch.old != "offline":
                loop = asyncio.get_running_loop()
                self._held_wills[ch.agent] = loop.call_later(
                    WILL_GRACE_S, self._will_confirmed, ch, self.link.stats.disconnects
                )
                continue
            self._forward(ch)

    def _will_confirmed(self, ch: AgentChange, disconnects: int) -> None:
        """The grace is over: if the link stayed up all along, the agent really went
        away; if it dropped, the will came with the outage and the resync decides."""
        self._held_wills.pop(ch.agent, None)
        if self.link.stats.disconnects != disconnects or not self.link.connected.is_set():
            self._kept_over_outage.add(ch.agent)
            return
        log.info("agent_offline", agent=ch.agent)
        self._forward(ch)

    def _on_resync(self) -> None:
        """Agents the outage kept reserved but the resync did not re-confirm are gone."""
        for agent in sorted(self._kept_over_outage):
            if self.registry.effective_state(agent) == "offline":
                runner = self._runner_for(agent)
                if runner is not None:
                    runner.report(AgentChanged(agent, "offline"))
        self._kept_over_outage.clear()

    def _forward(self, ch: AgentChange) -> None:
        runner = self._runner_for(ch.agent)
        timer = self._wrap_timers.pop(ch.agent, None)
        if timer is not None:
            timer.cancel()
        if runner is None:
            return
        runner.report(ch.pacer_event())
        cap = runner.campaign.pacing.wrap_up_cap_s
        if ch.new == "wrap" and cap is not None:
            reported = self.registry.reported_state(ch.agent)
            if reported is not None:
                loop = asyncio.get_running_loop()
                self._wrap_timers[ch.agent] = loop.call_later(
                    cap, self._wrap_cap_reached, ch.agent, reported.session, reported.seq
                )

    def _wrap_cap_reached(self, agent: str, session: str, seq: int) -> None:
        self._wrap_timers.pop(agent, None)
        change = self.registry.end_wrap(agent, session, seq)
        if change is None:
            return
        log.info("wrap_up_capped", agent=agent)
        self._forward(change)
        last = self._last_call.get(agent)
        if last is not None and self._tg is not None:
            call_id, campaign = last
            msg = AgentCallMessage(
                event="wrap_up_ended", call_id=call_id, campaign=campaign, ts=self.wall()
            )
            self._tg.create_task(self._tell_desktop(agent, msg))

    async def _publish_call(self, agent: str, event: AgentCallMessage) -> None:
        self._last_call[agent] = (event.call_id, event.campaign)
        await self.link.publish_call(agent, event)

    async def _tell_desktop(self, agent: str, event: AgentCallMessage) -> None:
        try:
            await self.link.publish_call(agent, event)
        except Exception as e:
            log.warning("agent_publish_failed", agent=agent, call_event=event.event, error=str(e))

    def _runner_for(self, agent: str) -> CampaignRunner | None:
        owner = self._owner.get(agent)
        if owner is not None and owner in self.runners and self.runners[owner].state != "stopped":
            return self.runners[owner]
        self._owner.pop(agent, None)
        member = self.registry.member(agent)
        if member is None:
            return None
        candidates = [
            r
            for r in self.runners.values()
            if member.may_serve(r.campaign.id, r.campaign.agent_group) and r.state != "stopped"
        ]
        if self._shared:  # served only by the node holding the agent's home campaign
            home = home_campaign(
                lambda c: (
                    c in self.campaign_configs
                    and member.may_serve(c, self.campaign_configs[c].agent_group)
                ),
                self._lease_view,
                self.wall(),
            )
            candidates = [r for r in candidates if r.campaign.id == home]
        if not candidates:
            return None
        load = {r.campaign.id: 0 for r in candidates}
        for cid in self._owner.values():
            if cid in load:
                load[cid] += 1
        runner = min(candidates, key=lambda r: (r.state != "active", load[r.campaign.id]))
        self._owner[agent] = runner.campaign.id
        return runner

    def _release_agents_of(self, runner: CampaignRunner) -> None:
        """A campaign stopped: its agents go to the other campaigns of their group."""
        cid = runner.campaign.id
        for agent in [a for a, owner in self._owner.items() if owner == cid]:
            del self._owner[agent]
            runner.report(AgentChanged(agent, "offline"))
            state = self.registry.effective_state(agent)
            other = self._runner_for(agent)
            if other is not None and state is not None:
                other.report(AgentChanged(agent, state))

    # --- supervisor requests ----------------------------------------------------------

    def _held_elsewhere(self, campaign: str) -> bool:
        """A campaign of the shared store that this node does not run now: the node
        holding its lease answers the supervisor, not this one."""
        return self._shared and campaign in self._settled and campaign not in self.runners

    async def _on_control(self, campaign: str, req: ControlRequest) -> ControlReply | None:
        if self._held_elsewhere(campaign):
            return None
        runner = self.runners.get(campaign)
        if runner is None:
            return self._reply(req, "control", False, f"unknown campaign {campaign!r}")
        old = runner.state
        new = _TRANSITIONS[req.action].get(old)
        if new is None:
            return self._reply(
                req, "control", False, f"cannot {req.action} a campaign that is {old}"
            )
        await self._store.campaigns.set_state(campaign, new, actor=req.actor)
        runner.set_state(new)
        if new == "stopped":
            self._release_agents_of(runner)
        log.info("campaign state changed", campaign=campaign, old=old, new=new, actor=req.actor)
        warnings: list[str] = []
        if new == "active":
            try:
                warnings = [
                    f"it will dial nothing yet: {r.message}"
                    for r in await runner.refresh_blocking()
                ]
            except Exception as e:  # the start stands; the warning is a courtesy
                log.warning("blocking_reasons_unread", campaign=campaign, error=repr(e))
        await self._publish_status_now()
        reply = self._reply(req, "control", True, "", {"state": old}, {"state": new})
        return reply.model_copy(update={"warnings": warnings})

    async def _on_pacing(self, campaign: str, req: PacingChangeRequest) -> ControlReply | None:
        if self._held_elsewhere(campaign):
            return None
        runner = self.runners.get(campaign)
        if runner is None:
            return self._reply(req, "pacing", False, f"unknown campaign {campaign!r}")
        try:
            before, changed = await self.change_pacing(runner, req.apply_to, req.actor)
        except ValueError as e:
            await self._store.audit.record(
                req.actor,
                "pacing.refused",
                campaign_id=campaign,
                old=runner.campaign.pacing.model_dump(),
                new=req.changes,
                detail=str(e),
            )
            return self._reply(req, "pacing", False, str(e))
        await self._publish_status_now()
        return self._reply(req, "pacing", True, "", before, changed)

    async def change_pacing(
        self,
        runner: CampaignRunner,
        change: Callable[[PacingConfig], PacingConfig],
        actor: str,
        *,
        from_file: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply a live pacing change (a supervisor's request or a reloaded file): check
        it, hand it to the pacer, audit old → new and store the campaign's new config.
        Returns (old values, new values) of the fields that changed; raises ValueError
        with the reason when the change is refused."""
        current = runner.campaign.pacing
        new = change(current)
        _check_runnable(runner.campaign, new)
        runner.set_pacing(new)
        old_values, new_values = current.model_dump(), new.model_dump()
        changed = {k: v for k, v in new_values.items() if old_values[k] != v}
        before = {k: old_values[k] for k in changed}
        cid = runner.campaign.id
        await self._store.audit.record(
            actor, "pacing.changed", campaign_id=cid, old=before, new=changed
        )
        if not from_file:
            # A supervisor's change: kept across restarts until the file changes the field.
            file_pacing = self.campaign_configs[cid].pacing
            overrides = after_live_change(
                await self._store.campaigns.pacing_overrides(cid),
                file_pacing,
                changed,
                actor,
                self.wall(),
            )
            await self._store.campaigns.save_pacing_overrides(cid, overrides.values())
        cfg = runner.campaign
        await self._store.campaigns.upsert(cid, cfg.name, cfg.model_dump_json(), actor=actor)
        log.info("pacing changed", campaign=cid, old=before, new=changed, actor=actor)
        return before, changed

    def reload_roster(self, roster: Roster) -> None:
        """A new roster: agents whose entry changed or went are taken from their campaign
        (offline there) and routed again under their new entry."""
        old = self.registry.roster
        changes = self.registry.set_roster(roster)
        self._on_agent_changes(changes)
        for agent in sorted(set(old) | set(roster)):
            if old.get(agent) == roster.get(agent):
                continue
            owner = self.runners.get(self._owner.pop(agent, ""))
            if owner is not None:
                owner.report(AgentChanged(agent, "offline"))
            state = self.registry.effective_state(agent)
            runner = self._runner_for(agent) if agent in roster else None
            if runner is not None and state is not None:
                runner.report(AgentChanged(agent, state))
        log.info("agent roster loaded", agents=len(roster))

    async def reload_campaigns(self) -> None:
        """SIGHUP: validate the campaign files and the roster again and apply what can
        change live (the pacing, the roster). A bad file is rejected whole and the
        running configuration kept."""
        if self.cfg.engine.agents_file is not None:
            try:
                self.reload_roster(load_roster(self.cfg.engine.agents_file))
            except ConfigError as e:
                log.error("roster reload rejected; running roster kept", problems=e.problems)
        try:
            fresh = {c.id: c for c in load_campaigns(self.cfg.engine.campaigns_dir)}
        except ConfigError as e:
            log.error("reload rejected; running configuration kept", problems=e.problems)
            return
        for cid, runner in self.runners.items():
            new_file = fresh.get(cid)
            if new_file is None:
                log.warning("campaign file removed; stop it with `dialguard campaign stop`", id=cid)
                continue
            # The file's new values, except the fields a supervisor set live that the
            # file did not change (engine.ownership): SIGHUP undoes no live change either.
            new = await self._settle(new_file)
            self.campaign_configs[cid] = new_file
            if new.pacing == runner.campaign.pacing:
                continue
            try:
                await self.change_pacing(runner, _replaced_by(new.pacing), "sighup", from_file=True)
            except ValueError as e:
                log.error("pacing change rejected", campaign=cid, error=str(e))
                continue
            log.info("pacing reloaded", campaign=cid)
        added = sorted(set(fresh) - set(self.runners))
        if added:
            log.warning("new campaign files need a restart to run", ids=added)
        log.info("campaign files reloaded", campaigns=sorted(fresh))

    def _reply(
        self,
        req: ControlRequest | PacingChangeRequest,
        kind: str,
        accepted: bool,
        reason: str,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
    ) -> ControlReply:
        return ControlReply(
            request_id=req.request_id,
            kind=kind,
            accepted=accepted,
            reason=reason,
            actor=req.actor,
            old=old,
            new=new,
            ts=self.wall(),
        )

    async def _on_disposition(self, agent: str, disp: Disposition) -> None:
        attempt = await self._store.attempts.by_call_id(disp.call_id)
        if attempt is not None and attempt.campaign_id == disp.campaign:
            await self._store.attempts.set_disposition(attempt.id, disp.code)
            return
        log.info("disposition for an unknown call", agent=agent, call_id=disp.call_id)

    # --- status -------------------------------------------------------------------------

    def _agents_view(self) -> list[AgentStatus]:
        """The registry's agents, with what only the pacers know: who is held for a call
        that is ringing (``ready`` in the registry, not free), which campaign each works
        for, the call each is on or held for (number masked), and since when it is in its
        state (as seen by this snapshot, to a second)."""
        reserved = {a for r in self.runners.values() for a in r.pacer.reservations()}
        calls = {
            who: mask_number(job.contact.number)
            for r in self.runners.values()
            for job in r.jobs.values()
            if job.outcome is None and (who := job.connected_agent or job.agent) is not None
        }
        now = self.wall()
        out = []
        for a in self.registry.snapshot():
            held = a.agent in reserved
            seen = (a.state, held)
            last = self._state_since.get(a.agent)
            if last is None or last[0] != seen:
                last = self._state_since[a.agent] = (seen, now)
            out.append(
                a.model_copy(
                    update={
                        "reserved": held,
                        "campaign": self._owner.get(a.agent),
                        "since": last[1],
                        "call": calls.get(a.agent),
                    }
                )
            )
        return out

    def status(self) -> EngineStatus:
        return EngineStatus(
            engine_id=self.engine_id,
            ts=self.wall(),
            broker_connected=self.link.connected.is_set(),
            agents_synced=self.link.dialling_allowed,
            campaigns=[r.status() for r in self.runners.values()],
            agents_by_state=self.registry.counts(),
            agents=self._agents_view(),
            trunk=self.trunk_health.view().state,
            trunk_reason=self.trunk_health.view().reason[:200],
            store_writes_ok=self.writes.healthy,
        )

    def health(self) -> dict[str, Any]:
        return {
            "ok": self.crashed is None
            and self.store is not None
            and self.link.dialling_allowed
            and self.writes.healthy,
            "crashed": self.crashed,
            "store_writes": "ok" if self.writes.healthy else "failing",
            "store_writes_pending": self.writes.pending,
            "broker": "connected" if self.link.connected.is_set() else "down",
            "agents_synced": self.link.dialling_allowed,
            "campaigns": {cid: r.state for cid, r in self.runners.items()},
        }

    async def _publish_status_now(self) -> None:
        """A snapshot out before a supervisor's change is answered: a ``status`` run
        right after ``campaign start`` (a pasted walk-through runs them back to back)
        read the snapshot of up to a second before and showed the campaign paused. A
        courtesy: a slow or lost broker does not hold the reply."""
        with contextlib.suppress(BrokerLinkDown, TimeoutError):
            await asyncio.wait_for(self.link.publish_status(self.status()), 1.0)

    async def _publish_status(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            self.metrics.broker_connected.set(1 if self.link.dialling_allowed else 0)
            self.metrics.store_writes_failing.set(0 if self.writes.healthy else 1)
            for state, n in self.registry.counts().items():
                self.metrics.agents.labels(state).set(n)
            with contextlib.suppress(BrokerLinkDown):
                await self.link.publish_status(self.status())
