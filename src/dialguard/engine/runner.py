"""The campaign runner: one per campaign, the asyncio shell around its pacer.

Like aioquic's protocol layer, it only feeds the pacer (agent changes, call progress,
``loop.time()``), carries out the decisions that come out of ``poll()``, and re-arms a
wake-up at ``next_deadline()``. All the judgement is in :mod:`dialguard.pacing`.

Carrying out a ``Launch`` is where the durability rule lives: pick a contact that every
compliance rule allows, write the attempt row, and only then send the INVITE. If no
contact is callable, the campaign is paused, the broker or the store is in trouble, or
the reserved agent is no longer proven available, the pacer hears ``CouldNotLaunch`` and
releases the agent. Every launch ends in exactly one final pacer event: ``CouldNotLaunch``
before the INVITE, and from the INVITE on the :class:`~dialguard.engine.calls.CallJob`'s
``Failed`` or ``Ended``, whatever raises on the way.

The runner owns its launches and calls in an :class:`asyncio.TaskGroup`: an unexpected
error in one of them ends the runner, and the engine with it (a crashed part stops the
daemon; its restart reconciles the records), instead of leaving a campaign that
silently stopped dialling.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from dialguard.config import CampaignConfig, PacingConfig
from dialguard.config.pacing_map import ENGINE_TRANSFER_TIMEOUT_S, pacing_params
from dialguard.engine.answer_history import answer_history
from dialguard.engine.blocking import live_reasons, read_store_view, summary_line
from dialguard.engine.call_tally import CallTally
from dialguard.engine.calls import CallContext, CallJob
from dialguard.engine.metrics import EngineMetrics
from dialguard.engine.selection import Blocked, ContactPicker
from dialguard.engine.trunk_health import TrunkBreaker
from dialguard.engine.writes import StoreWrites
from dialguard.law import BUILT_IN_LISTS, ListTerms
from dialguard.logs import get_logger
from dialguard.mqtt.contract import AgentCallMessage, BlockReason, CampaignStatus
from dialguard.pacing import decisions as pd
from dialguard.pacing import events as pe
from dialguard.pacing.admission import Admission
from dialguard.pacing.calls import PacingProtocolError
from dialguard.pacing.pacer import Pacer
from dialguard.pacing.params import PacingMode
from dialguard.sip.api import Prompt, Trunk
from dialguard.store import AttemptUpdate, CampaignState, Store, StoreError

log = get_logger(__name__)

LIST_HOLDS: Final = frozenset({"dnc_list_missing", "dnc_list_stale"})
"""Store reasons that refuse every contact of the campaign (engine.blocking)."""

REASONS_EVERY_S = 2.0
"""How often a runner re-reads from the store why it may be blocked (lists, contacts):
two indexed queries, so a list imported or a window opening shows within seconds."""

GAUGES_EVERY_S = 0.25
"""The pacing gauges are set at most this often (a step runs per event: hundreds a
second at load; a scrape every few seconds needs no more)."""

CHECK_INVARIANTS = os.environ.get("DIALGUARD_CHECK_INVARIANTS", "") == "1"
"""Tests and soak runs set DIALGUARD_CHECK_INVARIANTS=1: the pacer's ledgers are checked
after every poll, so every end-to-end run also proves them."""


@dataclass
class RunnerDeps:
    """What a runner borrows from its engine."""

    store: Store
    trunk: Trunk
    metrics: EngineMetrics
    publish_agent: Callable[[str, AgentCallMessage], Awaitable[None]]
    agent_uri: Callable[[str], str]
    prompt: Prompt
    writes: StoreWrites
    trunk_health: TrunkBreaker = field(default_factory=TrunkBreaker)
    dialling_allowed: Callable[[], bool] = lambda: True
    agent_available: Callable[[str], bool] = lambda agent: True
    wall: Callable[[], float] = time.time
    admission: Admission = field(default_factory=Admission)
    national_lists: Mapping[str, ListTerms] = field(default_factory=lambda: dict(BUILT_IN_LISTS))
    """Every national list's terms (``EngineConfig.national_lists()``)."""


class CampaignRunner:
    """Drives one campaign until stopped."""

    def __init__(self, deps: RunnerDeps, campaign: CampaignConfig, state: CampaignState) -> None:
        self.deps = deps
        self.campaign = campaign
        self.state: CampaignState = state
        self.loop = asyncio.get_running_loop()
        self.pacer = Pacer(pacing_params(campaign.pacing), now=self.loop.time())
        self.picker = ContactPicker(deps.store, campaign, deps.national_lists)
        self.jobs: dict[int, CallJob] = {}
        self.tally = CallTally(
            campaign.id,
            deps.metrics,
            deps.trunk_health,
            clock=self.loop.time,
            wall=deps.wall,
        )
        self.counts = self.tally.counts
        self.check_invariants = CHECK_INVARIANTS
        self._wake = asyncio.Event()
        self._stopping = False
        self._tg: asyncio.TaskGroup | None = None
        self._launching = 0  # launches not yet handed to a CallJob
        self._held_why: str | None = None  # why new dials are held (the pacer's gate)
        self._store_reasons: list[BlockReason] = []  # see engine.blocking
        self._reasons_at = float("-inf")
        self._reasons_task: asyncio.Task[None] | None = None
        self._shown_blocked: tuple[str, ...] = ()  # codes last logged and in the metrics
        self._contacts_left: int | None = None
        self._dial_times: collections.deque[float] = collections.deque()  # the last minute's
        self._reseed = False  # the abandon window changed: seed it again from the store
        self._seeded_until: float | None = None  # wall clock: the pacer saw every answer since
        self._admission_stopped = False  # logged once per stop and resume
        self._gauges_at = float("-inf")
        self._stepping = False  # in _step: report() must not step again inside it
        self._ctx = CallContext(
            store=deps.store,
            writes=deps.writes,
            campaign_id=campaign.id,
            publish_agent=deps.publish_agent,
            agent_uri=deps.agent_uri,
            prompt=deps.prompt,
            opt_out_digit=campaign.opt_out_digit,
            add_internal_dnc=self._add_internal_dnc,
            settle=self.picker.settle,
            report=self.report,
            reports=self.tally,
            transfer_timeout_s=ENGINE_TRANSFER_TIMEOUT_S,
            connect_deadline_s=campaign.pacing.connect_deadline_s,
            wrap_up_cap_s=lambda: self.campaign.pacing.wrap_up_cap_s,
            wall=deps.wall,
            referred=self._referred,
        )

    # --- inputs ---------------------------------------------------------------------

    def report(self, event: pe.Event) -> None:
        """Feed one event to the pacer (from calls, agents, or the engine) and wake up.

        An answer is stepped on at once, in the caller's own turn of the event loop
        (the call's 200 OK handler): its ``Connect`` reaches the call now rather than
        after the runner's task is woken and scheduled, a turn later, and at load a turn
        is every ready call's callbacks (answer→REFER p99 was 90–125 ms at 200 agents).
        Never from inside a step (a decision carried out may report an event)."""
        try:
            self.pacer.handle(event, self.loop.time())
        except PacingProtocolError as e:  # at-least-once sources: log, never crash
            log.warning("pacer_rejected_event", campaign=self.campaign.id, error=str(e))
        self._wake.set()
        if isinstance(event, pe.Answered) and not self._stepping and self._tg is not None:
            self._step()

    def set_state(self, state: CampaignState) -> None:
        self.state = state
        self._wake.set()

    def set_pacing(self, pacing: PacingConfig) -> None:
        """Apply a validated live pacing change (raises if the pacer refuses it)."""
        if pacing.abandon_window != self.campaign.pacing.abandon_window:
            self._reseed = True  # the new window's answers come from the store
        self.pacer.configure(pacing_params(pacing), self.loop.time())
        self.campaign = self.campaign.model_copy(update={"pacing": pacing})
        self._ctx.connect_deadline_s = pacing.connect_deadline_s
        self.picker.update_campaign(self.campaign)
        self._wake.set()

    # --- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Pace until :meth:`stop`; returns once every launch and call has ended."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            try:
                await self._seed_governor()
                await self._refresh_quietly()  # a list hold is known before any launch
                while not self._stopping:
                    if self._reseed:
                        await self._seed_governor()
                    self._step()
                    now = self.loop.time()
                    deadline = self.pacer.next_deadline()
                    resume = self.deps.admission.next_deadline(now)
                    if resume is not None:
                        deadline = resume if deadline is None else min(deadline, resume)
                    timeout = 1.0 if deadline is None else min(1.0, max(0.0, deadline - now))
                    await self._sleep(timeout)
                while self.jobs or self._launching:
                    # Draining: decisions for calls still up (connect, message) go on.
                    self._step()
                    await self._sleep(0.2)
                self._give_back_prefetched()  # a last launch may have refilled it
            finally:
                self._tg = None

    async def _sleep(self, at_most_s: float) -> None:
        """Until :meth:`report` (or another input) wakes the loop, or ``at_most_s``.

        ``asyncio.timeout`` rather than ``wait_for``: on Python 3.11 ``wait_for`` starts a
        task per wait, and the step that follows an event (a 200 OK's Connect) ran one
        turn of the event loop later for it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most_s):
                await self._wake.wait()
        self._wake.clear()

    def _give_back_prefetched(self) -> None:
        """Contacts claimed for launches that will not happen go back to pending."""
        self.deps.writes.submit(
            f"give back prefetched contacts of {self.campaign.id}", self.picker.release_prefetched
        )

    async def _seed_governor(self) -> None:
        """Give the pacer's abandon budget the window's answers from the store (wall
        clock), so a restart or a window change does not forget them (docs/pacing.md)."""
        self._reseed = False
        window = self.campaign.pacing.abandon_window
        if self._seeded_until is None:
            self._seeded_until = self.deps.wall()  # before the first step: nothing seen yet
        try:
            seed = await answer_history(
                self.deps.store, self.campaign.id, window, self.deps.wall(), self._seeded_until
            )
        except (StoreError, sqlite3.Error) as e:
            # Fail closed: until the seed is read the budget knows no answers, so it is
            # cold (no over-dial); try again on the next turn of the loop.
            log.warning("governor_seed_failed", campaign=self.campaign.id, error=str(e))
            self._reseed = True
            return
        self.report(seed)
        log.info("governor_seeded", campaign=self.campaign.id, window=window,
                 answers=len(seed.answers), abandoned=sum(a for _, a in seed.answers))  # fmt: skip

    def _step(self) -> None:
        self._stepping = True
        try:
            self._step_once()
        finally:
            self._stepping = False

    def _step_once(self) -> None:
        now = self.loop.time()
        self._gate(now)
        admission = self.deps.admission
        admission.observe("write_queue", self.deps.writes.pending, now)
        room = admission.room(now)
        if (room == 0 and admission.stopped(now)) != self._admission_stopped:
            self._admission_stopped = not self._admission_stopped
            if self._admission_stopped:
                log.warning("launches_stopped", campaign=self.campaign.id, why=admission.why)
            else:
                log.info("launches_resumed", campaign=self.campaign.id, window=admission.window)
        for d in self.pacer.poll(now, launch_limit=room):
            self._carry_out(d)
        if self.check_invariants:
            self.pacer.check_invariants()
        self._keep_reasons_fresh(now)
        if now - self._gauges_at < GAUGES_EVERY_S:
            return
        self._gauges_at = now
        c = self.pacer.counters(now)
        cid = self.campaign.id
        m = self.deps.metrics
        m.reservations.labels(cid).set(c.reservations_held)
        m.in_flight.labels(cid).set(c.dials_in_flight)
        m.pacing_level.labels(cid).set(c.dial_level)
        m.abandon_rate.labels(cid, self.campaign.pacing.abandon_window).set(c.abandon_rate_window)

    def _gate(self, now: float) -> None:
        """Tell the pacer when new dials are held or allowed again, so that it proposes
        none while held and resumes in the same step the hold ends (no backoff left
        over from refusals). Checked every step: the loop wakes at least once a second."""
        why = self._may_dial(None, trunk=False)
        if why is None and self.deps.trunk_health.paused(now):
            why = "trunk paused"
        if why is None:
            why = self._list_hold()
        if why == self._held_why:
            return
        if why is None:
            log.info("dialling_resumed", campaign=self.campaign.id, was=self._held_why)
        else:
            log.info("dialling_held", campaign=self.campaign.id, why=why)
            self._give_back_prefetched()
        self._held_why = why
        self.pacer.handle(pe.LaunchGate(open=why is None), now)

    def _list_hold(self) -> str | None:
        """A national list the campaign must screen is missing or too old: the gate
        would refuse every contact, so no launch is proposed (and no agent reserved for
        a pick that must fail) until the store's reasons, re-read every
        :data:`REASONS_EVERY_S`, say the list is there. CI saw a blocked campaign hold
        four agents "reserved" for such picks."""
        for r in self._store_reasons:
            if r.code in LIST_HOLDS:
                return r.message
        return None

    def _may_dial(self, agent: str | None, *, trunk: bool = True) -> str | None:
        """Why a new dial must not go out now (fail closed), or None. ``trunk``: ask the
        trunk breaker too (once per launch: in half-open it lets exactly one probe by)."""
        if self.state != "active":
            return f"campaign {self.state}"
        if self._stopping:
            return "stopping"
        if not self.deps.dialling_allowed():
            return "agent state not proven (broker)"
        if not self.deps.writes.healthy:
            return "store not taking writes"
        if agent is not None and not self.deps.agent_available(agent):
            return f"agent {agent} not available"
        if trunk and not self.deps.trunk_health.allows(self.loop.time()):
            return "trunk paused"
        return None

    def _carry_out(self, d: pd.Decision) -> None:
        if isinstance(d, pd.Launch):
            if self._may_dial(d.agent) is not None or self._tg is None:
                self.report(pe.CouldNotLaunch(d.call))
                return
            self._launching += 1
            self.deps.admission.started(self.loop.time())
            self._tg.create_task(self._launch(d), name=f"call-{self.campaign.id}-{d.call}")
        elif isinstance(d, pd.Reserve):
            job = self.jobs.get(d.call)
            if job is not None:
                job.agent = d.agent
        elif isinstance(d, pd.Connect):
            job = self.jobs.get(d.call)
            if job is not None:
                job.connect(d.agent)
            else:
                log.error("connect_for_unknown_call", campaign=self.campaign.id, call=d.call)
        elif isinstance(d, pd.PlayMessage):
            job = self.jobs.get(d.call)
            if job is not None:
                job.play_message(d.reason)
            else:
                log.error("message_for_unknown_call", campaign=self.campaign.id, call=d.call)
        elif isinstance(d, pd.Release):
            log.debug("reservation_released", call=d.call, agent=d.agent, reason=d.reason)

    async def _launch(self, d: pd.Launch) -> None:
        """Carry out one Launch; the pacer hears exactly one final event for it."""
        job: CallJob | None = None
        try:
            job = await self._place(d)
        finally:
            self._launching -= 1
            self.deps.admission.finished(self.loop.time())
            if job is None:
                self.report(pe.CouldNotLaunch(d.call))
        if job is None:
            return
        self.jobs[d.call] = job
        try:
            await job.follow()
        finally:
            self.jobs.pop(d.call, None)

    async def _place(self, d: pd.Launch) -> CallJob | None:
        """Pick, write the attempt row, send the INVITE; None if no call was placed."""
        wall = self.deps.wall()
        # A call with an agent reserved for it is a progressive call whatever the campaign's
        # mode (the pacer fell back); rules.DIAL_MODE_OF counts it as guaranteed.
        mode: PacingMode = "progressive" if d.guaranteed else self.campaign.pacing.mode
        writes = self.deps.writes
        try:
            picked = await self.picker.next_contact(mode, wall)
        except Exception as e:
            writes.row_failed("pick a contact", e)
            return None
        if picked is None or isinstance(picked, Blocked):
            if isinstance(picked, Blocked) and self.counts.blocked != picked.reason:
                log.warning("campaign_blocked", campaign=self.campaign.id, reason=picked.reason)
            self.counts.blocked = picked.reason if isinstance(picked, Blocked) else ""
            self._reasons_at = float("-inf")  # say why in the status at the next step
            return None
        self.counts.blocked = ""
        contact_id = picked.id
        why = self._may_dial(d.agent, trunk=False)
        if why is not None:
            # paused, broker or store lost, or agent gone while we were choosing
            log.info("launch_withdrawn", campaign=self.campaign.id, why=why)
            writes.submit(f"put back contact {contact_id}", lambda: self.picker.release(contact_id))
            return None
        started = self.loop.time()
        try:
            attempt_id = await self.deps.store.attempts.open(
                campaign_id=self.campaign.id,
                contact_id=picked.id,
                number=picked.number,
                mode=mode,
                agent_id=d.agent,
                now=wall,
            )
        except Exception as e:  # no row, no dial
            writes.row_failed("attempt row", e)
            writes.submit(f"put back contact {contact_id}", lambda: self.picker.release(contact_id))
            return None
        writes.row_written()
        now = self.loop.time()
        self.deps.admission.observe("store_latency", now - started, now)
        store = self.deps.store
        try:
            call = await self.deps.trunk.originate(
                picked.number, self.campaign.caller_id, d.ring_timeout_s
            )
        except Exception as e:
            log.error("originate_failed", campaign=self.campaign.id, error=repr(e))
            now = self.deps.wall()
            writes.update(
                store, AttemptUpdate.settled(attempt_id, "failed", ended_at=now, ended_by="local")
            )
            writes.submit(
                f"settle contact {contact_id}",
                lambda: self.picker.settle(picked, "failed", now),
            )
            return None
        # From here the call is up: a CallJob owns it and no store write comes first.
        job = CallJob(d.call, self._ctx, attempt_id, picked, call, d.agent)
        self.report(pe.Launched(d.call))
        writes.update(store, AttemptUpdate.invited(attempt_id, wall, call.call_id))
        self.counts.dials += 1
        self._dial_times.append(self.loop.time())
        self.deps.metrics.dials.labels(self.campaign.id).inc()
        return job

    def _referred(self, answer_to_refer_s: float) -> None:
        self.deps.admission.observe("answer_to_refer", answer_to_refer_s, self.loop.time())

    async def _add_internal_dnc(self, number: str, reason: str) -> None:
        await self.deps.store.dnc.add([(number, reason)], "internal", None)

    # --- blocking reasons -------------------------------------------------------------

    def _keep_reasons_fresh(self, now: float) -> None:
        if now - self._reasons_at < REASONS_EVERY_S or self._tg is None or self._stopping:
            return
        if self._reasons_task is not None and not self._reasons_task.done():
            return
        self._reasons_at = now
        self._reasons_task = self._tg.create_task(
            self._refresh_quietly(), name=f"reasons-{self.campaign.id}"
        )

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_blocking()
        except Exception as e:  # a status read must never end the runner
            log.warning("blocking_reasons_unread", campaign=self.campaign.id, error=repr(e))

    async def refresh_blocking(self) -> list[BlockReason]:
        """Re-read the store's half of the reasons now; returns all of them."""
        view = await read_store_view(
            self.deps.store, self.campaign, self.deps.wall(), self.deps.national_lists
        )
        # The picker's prefetched contacts are claimed in the store (not pending) but not
        # dialled yet: still left to call, or a claim batch would vanish from the count.
        self._store_reasons = view.reasons
        self._contacts_left = view.contacts_left + self.picker.prefetched
        self._reasons_at = self.loop.time()
        return self.blocking_reasons()

    def blocking_reasons(self) -> list[BlockReason]:
        """Why this campaign dials nothing now (see :mod:`dialguard.engine.blocking`);
        also logs a change once and keeps ``dialguard_campaign_blocked`` in step."""
        now = self.loop.time()
        breaker = self.deps.trunk_health
        reasons = self._store_reasons + live_reasons(
            self.campaign,
            agents_in_group=sum(1 for a in self.pacer.agents.values() if a.state != "offline"),
            agents_synced=self.deps.dialling_allowed(),
            store_writes_ok=self.deps.writes.healthy,
            trunk_paused=(breaker.view().reason or "paused") if breaker.paused(now) else None,
            governor=self.pacer.counters(now).governor_state,
        )
        codes = tuple(r.code for r in reasons)
        if codes != self._shown_blocked:
            gauge = self.deps.metrics.campaign_blocked
            for code in set(self._shown_blocked) - set(codes):
                gauge.labels(self.campaign.id, code).set(0)
            for code in codes:
                gauge.labels(self.campaign.id, code).set(1)
            if reasons:
                log.warning(
                    "campaign_blocked",
                    campaign=self.campaign.id,
                    reasons=list(codes),
                    why=summary_line(reasons),
                )
            elif self._shown_blocked:
                log.info("campaign_unblocked", campaign=self.campaign.id)
            self._shown_blocked = codes
        return reasons

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
            blocked=self.blocking_reasons(),
            dials_last_min=self._dials_last_min(),
            contacts_left=self._contacts_left,
        )

    def _dials_last_min(self) -> int:
        edge = self.loop.time() - 60.0
        while self._dial_times and self._dial_times[0] < edge:
            self._dial_times.popleft()
        return len(self._dial_times)

    async def stop(self, grace_s: float) -> None:
        """Stop launching; let calls in progress end within ``grace_s``, else hang up.
        :meth:`run` returns once they are all done."""
        self._stopping = True
        self._wake.set()
        await asyncio.gather(*(j.stop(grace_s) for j in list(self.jobs.values())))
