"""Two engines on one PostgreSQL store: a campaign runs on the node holding its lease,
and a node that stops renewing (paused, cut off) loses it — the other takes the campaign
over after the expiry, reconciles the open attempt the first left, and the first can
dial nothing more for it (its writes are fenced off)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from dialguard.config import CampaignConfig, EngineConfig, Roster, parse_campaign
from dialguard.engine.agents import AgentRegistry
from dialguard.engine.engine import Engine
from dialguard.engine.mqtt import LinkHandlers
from dialguard.store import NewContact, Store
from tests.support.daemon import until
from tests.support.fake_link import FakeLink
from tests.support.postgres import scratch_database
from tests.support.scripted import ScriptedTrunk

NUMBERS = [f"+4420794602{n:02d}" for n in range(6)]
TTL = 2.0


def campaign(cid: str) -> CampaignConfig:
    return parse_campaign(
        {
            "id": cid,
            "name": f"Lease test {cid}",
            "caller_id": "+12025550123",
            "calling_window": {"regime": "none"},
            "pacing": {"mode": "progressive"},
            "retry": {"interrupted": {"delay_s": 3600, "max_attempts": 3}},
        }
    )


@dataclass
class Node:
    engine: Engine
    link: FakeLink
    trunk: ScriptedTrunk
    task: asyncio.Task[None]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with scratch_database() as url:
        yield url


@contextlib.asynccontextmanager
async def node(url: str, name: str, cids: list[str]) -> AsyncIterator[Node]:
    cfg = EngineConfig.model_validate(
        {
            "store": {"url": url, "lease_ttl_s": TTL},
            "engine": {"shutdown_grace_s": 0.5},
            "broker": {"client_id": name},
        }
    )
    links: list[FakeLink] = []

    def make_link(registry: AgentRegistry, handlers: LinkHandlers) -> FakeLink:
        links.append(FakeLink(registry, handlers))
        return links[-1]

    trunk = ScriptedTrunk(0.02)
    engine = Engine(
        cfg,
        [campaign(c) for c in cids],
        trunk,
        metrics_enabled=False,
        link=make_link,
        roster=Roster.of(["a1", "a2"]),
    )
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 10.0)
        await until(lambda: links[0].dialling_allowed, 5.0, "link synced")
        yield Node(engine, links[0], trunk, task)
    finally:
        if not task.done():
            engine.request_stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30.0)


async def seed(url: str, cids: list[str]) -> None:
    async with await Store.open(url) as store:
        for cid in cids:
            await store.campaigns.upsert(cid, cid, "{}", state="active")
            await store.contacts.insert(cid, [NewContact(number=n, region="GB") for n in NUMBERS])


async def test_two_nodes_share_the_campaigns_one_each_and_only_the_holder_answers(
    pg_url: str,
) -> None:
    await seed(pg_url, ["c1", "c2"])
    async with node(pg_url, "node-a", ["c1", "c2"]) as a:
        await until(lambda: set(a.engine.runners) == {"c1", "c2"}, 5.0, "a alone takes both")
        async with node(pg_url, "node-b", ["c1", "c2"]) as b:
            await until(
                lambda: len(a.engine.runners) == 1 and len(b.engine.runners) == 1,
                4 * TTL + 5,
                "one campaign each",
            )
            assert set(a.engine.runners) | set(b.engine.runners) == {"c1", "c2"}
            (on_b,) = b.engine.runners
            assert await a.link.control(on_b, "pause") is None, "only the holder answers"
            reply = await b.link.control(on_b, "pause")
            assert reply is not None and reply.accepted, reply


async def test_a_node_that_stops_renewing_is_taken_over_and_fenced_off(pg_url: str) -> None:
    await seed(pg_url, ["c1"])
    async with node(pg_url, "node-a", ["c1"]) as a:
        await until(lambda: "c1" in a.engine.runners, 5.0, "a takes c1")
        a.link.agent("a1", "ready")
        await until(lambda: len(a.trunk.calls) == 1, 5.0, "a dials")
        first = a.trunk.calls[0]
        first.ring()

        async def hang(_ttl: float) -> None:  # a's lease keeper stalls: no more renewals
            await asyncio.Event().wait()

        a.engine._lease_turn = hang  # type: ignore[method-assign]
        async with node(pg_url, "node-b", ["c1"]) as b:
            b.link.agent("a1", "ready")
            await until(lambda: "c1" in b.engine.runners, TTL + TTL / 3 + 5, "b takes over")
            assert len(b.engine.recovered) == 1, "a's open attempt closed as interrupted"
            first.end()  # a's call ends; a's agent is free again, but a no longer holds c1
            a.link.agent("a1", "ready")
            await until(lambda: len(b.trunk.calls) >= 1, 5.0, "b dials")
            await asyncio.sleep(1.0)
            assert len(a.trunk.calls) == 1, "the fenced node placed no new call"
            assert first.number not in {c.number for c in b.trunk.calls}, "no double dial"
    async with await Store.open(pg_url) as store:
        rows = await store.attempts.of_campaign("c1", 0, 2e9)
    by_number: dict[str, int] = {}
    for row in rows:
        by_number[row.number] = by_number.get(row.number, 0) + 1
    assert max(by_number.values()) == 1, by_number
    assert [r.outcome for r in rows if r.number == first.number] == ["interrupted"]
