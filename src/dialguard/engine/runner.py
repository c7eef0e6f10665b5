"""The campaign runner: one per campaign, the asyncio shell around its pacer.

Like aioquic's protocol layer, it only feeds the pacer (agent changes, call progress,
``loop.time()``), carries out the decisions that come out of ``poll()``, and re-arms a
wake-up at ``next_deadline()``. All the judgement is in :mod:`dialguard.pacing`.

Carrying out a ``Launch`` is where the durability rule lives: pick a contact that every
compliance rule allows, write the attempt row, and only then send the INVITE. If no
contact is callable, or the campaign is paused, the pacer hears ``CouldNotLaunch`` and
releases the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from dialguard.config import CampaignConfig, PacingConfig
from dialguard.config.pacing_map import ENGINE_TRANSFER_TIMEOUT_S, pacing_params
from dialguard.engine.calls import CallContext, CallJob
from dialguard.engine.messages import CallEvent as AgentCallEvent
from dialguard.engine.messages import CampaignStatus
from dialguard.engine.metrics import EngineMetrics
from dialguard.engine.selection import Blocked, ContactPicker
from dialguard.logs import get_logger
from dialguard.pacing import decisions as pd
from dialguard.pacing import events as pe
from dialguard.pacing.calls import PacingProtocolError
from dialguard.pacing.pacer import Pacer
from dialguard.sip.api import Prompt, Trunk
from dialguard.store import Store

log = get_logger(__name__)

CampaignState = Literal["active", "paused", "stopped"]
@dataclass
class RunnerDeps:
    """What a runner borrows from its engine."""

    store: Store
    trunk: Trunk
    metrics: EngineMetrics
    publish_agent: Callable[[str, AgentCallEvent], Awaitable[None]]
    agent_uri: Callable[[str], str]
    prompt: Prompt
    dialling_allowed: Callable[[], bool] = lambda: True
    wall: Callable[[], float] = time.time


@dataclass
class Counts:
    """What the status snapshot shows per campaign (metrics carry the rest)."""

    dials: int = 0
    answers: int = 0
    connects: int = 0
    abandoned: int = 0
    blocked: str = ""  # the campaign-wide refusal last logged, so it is logged once


class CampaignRunner:
    """Drives one campaign until stopped."""

    def __init__(self, deps: RunnerDeps, campaign: CampaignConfig, state: CampaignState) -> None:
        self.deps = deps
        self.campaign = campaign
        self.state: CampaignState = state
        self.loop = asyncio.get_running_loop()
        self.pacer = Pacer(pacing_params(campaign.pacing), now=self.loop.time())
        self.picker = ContactPicker(deps.store, campaign)
        self.jobs: dict[int, CallJob] = {}
        self.counts = Counts()
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._ctx = CallContext(
            store=deps.store,
            campaign_id=campaign.id,
            publish_agent=deps.publish_agent,
            agent_uri=deps.agent_uri,
            prompt=deps.prompt,
            opt_out_digit=campaign.opt_out_digit,
            add_internal_dnc=self._add_internal_dnc,
            settle=self.picker.settle,
            report=self.report,
            on_record=self._on_record,
            transfer_timeout_s=ENGINE_TRANSFER_TIMEOUT_S,
            wall=deps.wall,
        )

    # --- inputs ---------------------------------------------------------------------

    def report(self, event: pe.Event) -> None:
        """Feed one event to the pacer (from calls, agents, or the engine) and wake up."""
        try:
            self.pacer.handle(event, self.loop.time())
        except PacingProtocolError as e:  # at-least-once sources: log, never crash
            log.warning("pacer_rejected_event", campaign=self.campaign.id, error=str(e))
        self._wake.set()

    def set_state(self, state: CampaignState) -> None:
        self.state = state
        self._wake.set()

    def set_pacing(self, pacing: PacingConfig) -> None:
        """Apply a validated live pacing change (raises if the pacer refuses it)."""
        self.pacer.configure(pacing_params(pacing), self.loop.time())
        self.campaign = self.campaign.model_copy(update={"pacing": pacing})
        self.picker.update_campaign(self.campaign)
        self._wake.set()

    # --- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        while not self._stopping:
            self._step()
            deadline = self.pacer.next_deadline()
            timeout = 1.0 if deadline is None else min(1.0, max(0.0, deadline - self.loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    def _step(self) -> None:
        now = self.loop.time()
        for d in self.pacer.poll(now):
            self._carry_out(d)
        c = self.pacer.counters(now)
        cid = self.campaign.id
        m = self.deps.metrics
        m.reservations.labels(cid).set(c.reservations_held)
        m.in_flight.labels(cid).set(c.dials_in_flight)
        m.pacing_level.labels(cid).set(c.dial_level)
        m.abandon_rate.labels(cid, self.campaign.pacing.abandon_window).set(c.abandon_rate_window)

    def _carry_out(self, d: pd.Decision) -> None:
        if isinstance(d, pd.Launch):
            # Fail closed: paused, stopping, or agent state not proven (broker lost).
            if self.state != "active" or self._stopping or not self.deps.dialling_allowed():
                self.report(pe.CouldNotLaunch(d.call))
                return
            self._spawn(self._launch(d))
        elif isinstance(d, pd.Reserve):
            job = self.jobs.get(d.call)
            if job is not None:
                job.agent = d.agent
        elif isinstance(d, pd.Connect):
            job = self.jobs.get(d.call)
            if job is not None:
                job.connect(d.agent)
        elif isinstance(d, pd.PlayMessage):
            job = self.jobs.get(d.call)
            if job is not None:
                job.play_message(d.reason)
        elif isinstance(d, pd.Release):
            log.debug("reservation_released", call=d.call, agent=d.agent, reason=d.reason)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("runner_task_failed", campaign=self.campaign.id, error=repr(task.exception()))

    async def _launch(self, d: pd.Launch) -> None:
        wall = self.deps.wall()
        mode = self.campaign.pacing.mode if not d.guaranteed else "progressive"
        try:
            picked = await self.picker.next_contact(mode, wall)
        except Exception as e:
            log.error("contact_selection_failed", campaign=self.campaign.id, error=repr(e))
            picked = None
        if picked is None or isinstance(picked, Blocked):
            if isinstance(picked, Blocked) and self.counts.blocked != picked.reason:
                log.warning("campaign_blocked", campaign=self.campaign.id, reason=picked.reason)
            self.counts.blocked = picked.reason if isinstance(picked, Blocked) else ""
            self.report(pe.CouldNotLaunch(d.call))
            return
        self.counts.blocked = ""
        if self.state != "active" or self._stopping or not self.deps.dialling_allowed():
            # paused or broker lost while we were choosing: put the contact back
            await self.picker.release(picked.id)
            self.report(pe.CouldNotLaunch(d.call))
            return
        attempt_id = await self.deps.store.open_attempt(
            campaign_id=self.campaign.id,
            contact_id=picked.id,
            number=picked.number,
            mode=mode,
            agent_id=d.agent,
            now=wall,
        )
        try:
            call = await self.deps.trunk.originate(
                picked.number, self.campaign.caller_id, d.ring_timeout_s
            )
        except Exception as e:
            log.error("originate_failed", campaign=self.campaign.id, error=repr(e))
            now = self.deps.wall()
            await self.deps.store.update_attempt(
                attempt_id, outcome="failed", ended_at=now, ended_by="local"
            )
            await self.picker.settle(picked.id, "failed", now)
            self.report(pe.CouldNotLaunch(d.call))
            return
        await self.deps.store.update_attempt(attempt_id, invite_at=wall, call_id=call.call_id)
        self.counts.dials += 1
        self.deps.metrics.dials.labels(self.campaign.id).inc()
        job = CallJob(d.call, self._ctx, attempt_id, picked, call, d.agent)
        self.jobs[d.call] = job
        self.report(pe.Launched(d.call))
        try:
            await job.follow()
        finally:
            self.jobs.pop(d.call, None)

    # --- callbacks from calls -----------------------------------------------------

    async def _add_internal_dnc(self, number: str, reason: str) -> None:
        await self.deps.store.add_suppressions([(number, reason)], "internal", None)
        self.deps.metrics.opt_outs.labels(self.campaign.id).inc()

    def _on_record(self, kind: str, data: dict[str, object]) -> None:
        cid = self.campaign.id
        m = self.deps.metrics
        if kind == "answered":
            self.counts.answers += 1
            m.answers.labels(cid).inc()
        elif kind == "connected":
            self.counts.connects += 1
            wait = float(data.get("answer_to_agent_s", 0.0))  # type: ignore[arg-type]
            m.connects.labels(cid).inc()
            m.answer_to_agent.labels(cid).observe(wait)
        elif kind == "abandoned":
            self.counts.abandoned += 1
            m.abandoned.labels(cid, str(data.get("reason", "unknown"))).inc()
        elif kind == "outcome":
            m.outcomes.labels(cid, str(data.get("outcome"))).inc()

    # --- status and shutdown -----------------------------------------------------------

    def status(self) -> CampaignStatus:
        c = self.pacer.counters(self.loop.time())
        state = {"active": "running", "paused": "paused", "stopped": "stopped"}[self.state]
        if self._stopping:
            state = "draining"
        return CampaignStatus(
            id=self.campaign.id,
            state=state,
            mode=self.campaign.pacing.mode,
            dials=self.counts.dials,
            answers=self.counts.answers,
            connects=self.counts.connects,
            abandoned=self.counts.abandoned,
            in_flight=c.dials_in_flight,
            abandon_rate=c.abandon_rate_window,
            abandon_cap=self.campaign.pacing.abandon_cap,
        )

    async def stop(self, grace_s: float) -> None:
        """Stop launching; let calls in progress end within ``grace_s``, else hang up."""
        self._stopping = True
        self._wake.set()
        await asyncio.gather(*(j.stop(grace_s) for j in list(self.jobs.values())))
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
