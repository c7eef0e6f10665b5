"""The call job alone: a scripted SIP call, a recording write queue and a recorder of
what the job reports, no pacer, no broker, no SQLite. Each test drives the far end
and checks the order the module docstring promises (the pacer first, then the reports,
then the queued writes), the hard connect deadline, and that every fact reaches the
runner through :class:`~dialguard.engine.calls.CallReports`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from dialguard.engine.calls import AbandonReason, CallContext, CallJob, CallReports
from dialguard.mqtt.contract import AgentCallMessage
from dialguard.pacing import events as pe
from dialguard.sip.api import TrunkEventKind
from dialguard.sip.prompt import default_prompt
from dialguard.store import AttemptUpdate
from dialguard.store.records import AttemptOutcome, ContactRecord
from tests.support.scripted import ScriptedCall

NUMBER = "+442079460123"


@dataclass
class Ledger:
    """Everything the job did, in one timeline: pacer events, reports, queued writes."""

    lines: list[tuple[str, Any]] = field(default_factory=list)
    told: list[tuple[str, AgentCallMessage]] = field(default_factory=list)
    writes: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)
    updates: list[AttemptUpdate] = field(default_factory=list)

    def kinds(self, what: str) -> list[Any]:
        return [v for k, v in self.lines if k == what]

    def index(self, what: str, value: Any) -> int:
        return self.lines.index((what, value))


class Reports:
    """A :class:`CallReports` that writes each fact into the ledger."""

    def __init__(self, ledger: Ledger, retry_at: float = 5000.0) -> None:
        self._l = ledger
        self.retry_at = retry_at

    def answered(self) -> None:
        self._l.lines.append(("report", "answered"))

    def connected(self, answer_to_agent_s: float) -> None:
        self._l.lines.append(("report", "connected"))
        self._l.lines.append(("answer_to_agent_s", answer_to_agent_s))

    def abandoned(self, reason: AbandonReason) -> None:
        self._l.lines.append(("report", f"abandoned:{reason}"))

    def finished(self, outcome: AttemptOutcome) -> None:
        self._l.lines.append(("report", f"finished:{outcome}"))

    def opted_out(self) -> None:
        self._l.lines.append(("report", "opted_out"))

    def trunk_refused(self, code: int | None, retry_after: float | None) -> float:
        self._l.lines.append(("report", f"trunk_refused:{code}"))
        return self.retry_at

    def trunk_carried(self) -> None:
        self._l.lines.append(("report", "trunk_carried"))


class RecordingWrites:
    """Stands in for :class:`StoreWrites`: keeps what was queued, in order, unrun."""

    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger

    def submit(self, what: str, write: Callable[[], Awaitable[None]]) -> None:
        self._l.lines.append(("write", what))
        self._l.writes.append((what, write))

    def update(self, store: object, update: AttemptUpdate) -> None:
        self._l.lines.append(("write", str(update)))
        self._l.updates.append(update)


class NoStore:
    """The job only hands store calls to the write queue; none may run in these tests."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the call job used the store directly: {name}")


def contact() -> ContactRecord:
    return ContactRecord(
        id=7,
        campaign_id="c1",
        number=NUMBER,
        region="GB",
        timezones=("Europe/London",),
        name="Ann",
        priority=0,
        consent=None,
        preferred_channel=None,
        preferred_hours=None,
        custom={"ref": "A-1"},
        status="in_progress",
        attempts=1,
        next_attempt_at=0.0,
        last_outcome=None,
        created_at=0.0,
    )


@dataclass
class Rig:
    job: CallJob
    call: ScriptedCall
    ledger: Ledger
    task: asyncio.Task[None]

    async def done(self, within: float = 5.0) -> None:
        await asyncio.wait_for(self.task, within)


async def start(
    *,
    transfer_s: float | None = 0.01,
    connect_deadline_s: float = 2.0,
    transfer_timeout_s: float = 1.0,
    agent: str | None = "a1",
) -> Rig:
    ledger = Ledger()
    call = ScriptedCall(NUMBER, 1, transfer_s)

    async def publish(agent: str, msg: AgentCallMessage) -> None:
        ledger.told.append((agent, msg))

    async def settle(*args: Any) -> None:
        raise AssertionError("settle runs from the write queue, never inline")

    async def add_dnc(number: str, reason: str) -> None:
        raise AssertionError("the DNC entry runs from the write queue, never inline")

    reports: CallReports = Reports(ledger)
    ctx = CallContext(
        store=NoStore(),  # type: ignore[arg-type]
        writes=RecordingWrites(ledger),  # type: ignore[arg-type]
        campaign_id="c1",
        publish_agent=publish,
        agent_uri=lambda a: f"sip:{a}@127.0.0.1",
        prompt=default_prompt(),
        opt_out_digit="9",
        add_internal_dnc=add_dnc,
        settle=settle,
        report=lambda ev: ledger.lines.append(("pacer", type(ev).__name__)),
        reports=reports,
        transfer_timeout_s=transfer_timeout_s,
        connect_deadline_s=connect_deadline_s,
        wrap_up_cap_s=lambda: 30.0,
    )
    job = CallJob(1, ctx, 42, contact(), call, agent)
    task = asyncio.create_task(job.follow())
    await asyncio.sleep(0)
    return Rig(job, call, ledger, task)


async def settle_loop() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_answer_reaches_the_pacer_before_any_report_or_write() -> None:
    r = await start()
    r.call.ring()
    r.call.answer()
    await settle_loop()
    lines = r.ledger.lines
    assert lines.index(("pacer", "Ringing")) < lines.index(("write", "attempt 42 ringing"))
    assert lines.index(("pacer", "Answered")) < lines.index(("report", "answered"))
    assert r.ledger.kinds("report")[:2] == ["trunk_carried", "trunk_carried"]
    r.call.end()
    await r.done()


async def test_a_connected_call_reports_its_wait_then_ends_as_connected() -> None:
    r = await start(transfer_s=0.02)
    r.call.ring()
    r.call.answer()
    await settle_loop()
    r.job.connect("a1")
    await asyncio.sleep(0.1)
    assert r.job.connected_agent == "a1"
    (wait,) = r.ledger.kinds("answer_to_agent_s")
    assert 0.0 <= wait < 2.0
    assert [m.event for _, m in r.ledger.told] == ["offer", "connected"]
    assert r.ledger.told[0][1].contact is not None and r.ledger.told[0][1].contact.number == NUMBER
    r.call.end()
    await r.done()
    reports = r.ledger.kinds("report")
    assert "finished:connected" in reports
    assert not any(x.startswith("abandoned") for x in reports)
    assert r.ledger.told[-1][1].event == "ended"
    assert r.ledger.told[-1][1].wrap_up_cap_s == 30.0
    assert [p for p in r.ledger.kinds("pacer")].count("Ended") == 1


async def test_a_transfer_that_never_answers_plays_the_message_inside_the_deadline() -> None:
    r = await start(transfer_s=None, connect_deadline_s=0.6, transfer_timeout_s=5.0)
    r.call.answer()
    await settle_loop()
    r.job.connect("a1")
    await asyncio.sleep(0.8)
    assert r.call.played_at is not None and r.call.answered_t is not None
    assert r.call.played_at - r.call.answered_t < 0.6
    assert "abandoned:connect_timeout" in r.ledger.kinds("report")
    assert "ConnectFailed" in r.ledger.kinds("pacer")
    await r.done(10.0)  # message, opt-out wait, hang-up
    assert r.call.hung_up
    assert "finished:abandoned" in r.ledger.kinds("report")


async def test_an_answer_with_no_decision_hears_the_message_at_the_hard_deadline() -> None:
    r = await start(connect_deadline_s=0.5)
    r.call.answer()
    await asyncio.sleep(0.7)
    assert r.call.played_at is not None and r.call.answered_t is not None
    assert r.call.played_at - r.call.answered_t <= 0.5
    assert r.ledger.kinds("report").count("abandoned:connect_timeout") == 1
    r.call.end()
    await r.done()


async def test_the_opt_out_key_during_the_message_is_reported_once_and_queued() -> None:
    r = await start()
    r.call.answer()
    await settle_loop()
    r.job.play_message("no_agent")
    await settle_loop()
    r.call.push(TrunkEventKind.DTMF, digit="9")
    r.call.push(TrunkEventKind.DTMF, digit="9")
    await settle_loop()
    assert r.ledger.kinds("report").count("opted_out") == 1
    assert "internal DNC entry" in [w for w, _ in r.ledger.writes]
    await r.done(10.0)
    assert r.job.opted_out


@pytest.mark.parametrize(
    ("code", "reason", "outcome"),
    [(486, "Busy", "busy"), (603, "Decline", "rejected"), (404, "Not Found", "invalid")],
)
async def test_a_callee_refusal_maps_to_its_outcome_and_is_carried(
    code: int, reason: str, outcome: str
) -> None:
    r = await start()
    r.call.push(TrunkEventKind.FAILED, code=code, reason=reason)
    await r.done()
    assert r.job.outcome == outcome
    assert r.ledger.kinds("pacer") == ["Failed"]
    assert r.ledger.kinds("report") == ["trunk_carried", f"finished:{outcome}"]


async def test_a_trunk_refusal_asks_the_runner_when_to_retry_and_charges_nothing() -> None:
    r = await start()
    r.call.push(TrunkEventKind.FAILED, code=503, retry_after=30.0)
    await r.done()
    assert r.ledger.kinds("report") == ["trunk_refused:503", "finished:unavailable"]
    assert "attempt 42 trunk fault" in [str(u) for u in r.ledger.updates]


async def test_a_second_answer_of_a_forked_invite_counts_as_abandoned() -> None:
    r = await start()
    r.call.answer()
    r.call.push(TrunkEventKind.FORK_ANSWERED)
    await settle_loop()
    assert "abandoned:fork_answered" in r.ledger.kinds("report")
    r.call.end()
    await r.done()


async def test_the_callee_hanging_up_before_the_connect_is_abandoned_once() -> None:
    r = await start()
    r.call.answer()
    await settle_loop()
    r.call.end()
    await r.done()
    reports = r.ledger.kinds("report")
    assert reports.count("abandoned:caller_hung_up") == 1
    assert reports[-1] == "finished:abandoned"
    assert r.ledger.kinds("pacer")[-1] == "Ended"


async def test_events_that_break_off_still_give_the_pacer_one_final_event() -> None:
    r = await start()
    r.call.ring()
    await settle_loop()
    r.call._events.put_nowait(None)  # the adapter's stream ends with no final event
    await r.done()
    assert r.ledger.kinds("pacer") == ["Ringing", "Failed"]
    assert r.job.outcome == "failed"


def test_every_abandon_reason_of_the_pacer_is_a_call_abandon_reason() -> None:
    """The pacer's message reasons flow through ``play_message`` into ``abandoned()``;
    the call's vocabulary must contain them all (one definition, extended, not copied)."""
    from typing import get_args

    from dialguard.pacing.decisions import MessageReason

    ours = set()
    for arm in get_args(AbandonReason):
        ours |= set(get_args(arm)) if get_args(arm) else {arm}
    assert set(get_args(MessageReason)) <= ours
    assert {"fork_answered", "caller_hung_up", "transfer_failed"} <= ours


async def test_a_pacer_event_failure_is_not_swallowed() -> None:
    """The job reports to the pacer synchronously; the pacer's own protocol errors are
    the runner's to log (see runner.report), so anything else is a bug: it is raised to
    the runner (which stops the daemon) and the call is hung up, not left open."""
    r = await start()
    boom: list[pe.Event] = []

    def report(ev: pe.Event) -> None:
        boom.append(ev)
        raise RuntimeError("bug in the runner")

    r.job.ctx.report = report
    r.call.ring()
    with pytest.raises(ExceptionGroup):
        await r.done()
    assert r.call.hung_up  # never left up


async def test_a_stop_never_hangs_up_silently_on_a_callee_who_answered() -> None:
    """Shutdown with no grace left: a callee who answered and reached nobody yet still
    hears the message (at the connect deadline) before the hang-up. The end-to-end
    console test once saw a silent call at SIGTERM with the desktops gone."""
    r = await start(connect_deadline_s=0.4)
    r.call.answer()
    await settle_loop()
    await asyncio.wait_for(r.job.stop(0.0), 15.0)
    assert r.call.played_at is not None and r.call.answered_t is not None, "silent hang-up"
    assert r.call.played_at - r.call.answered_t <= 0.4 + 0.1
    assert r.call.hung_up
    await r.done()
    assert "finished:abandoned" in r.ledger.kinds("report")


async def test_a_stop_still_hangs_up_a_ringing_call_after_the_grace() -> None:
    r = await start()
    r.call.ring()
    await settle_loop()
    await asyncio.wait_for(r.job.stop(0.0), 10.0)
    assert r.call.hung_up and r.call.played_at is None
    await r.done()
