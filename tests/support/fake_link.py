"""A broker link with no broker, for unit tests of the engine.

:class:`FakeLink` implements :class:`dialguard.engine.mqtt.EngineLink` over the
engine's own :class:`AgentRegistry` and :class:`LinkHandlers`, the way
:class:`BrokerLink` does on a real broker: an agent's state message goes through
``registry.apply`` and the resulting change to the engine's handlers; a control request
goes to ``on_control``. What the engine publishes is kept in lists. The parsing, the
ordering rules and the broker itself are tested in tests/engine/test_mqtt.py against
mosquitto; here only the engine is under test.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from dialguard.engine.agents import AgentChange, AgentRegistry, Rejected
from dialguard.engine.mqtt import LinkHandlers, LinkStats
from dialguard.mqtt.contract import (
    AgentCallMessage,
    AgentStateMessage,
    AgentStateName,
    ControlReply,
    ControlRequest,
    EngineStatus,
    PacingChangeRequest,
)


class FakeLink:
    """The engine's link, driven by the test."""

    def __init__(self, registry: AgentRegistry, handlers: LinkHandlers) -> None:
        self.registry = registry
        self.handlers = handlers
        self.stats = LinkStats()
        self.connected = asyncio.Event()
        self.calls: list[tuple[str, AgentCallMessage]] = []
        self.statuses: list[EngineStatus] = []
        self.handoffs: list[tuple[str, bytes]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)

    @property
    def dialling_allowed(self) -> bool:
        return self.connected.is_set() and self.registry.synced

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def wait_synced(self, within_s: float) -> bool:
        return self.dialling_allowed

    async def publish_call(self, agent: str, event: AgentCallMessage) -> None:
        self.calls.append((agent, event))

    async def publish_status(self, status: EngineStatus) -> None:
        self.statuses.append(status)

    async def publish_handoff(self, channel: str, payload: bytes) -> None:
        self.handoffs.append((channel, payload))

    async def run(self) -> None:
        """Connected and resynchronised at once (no retained states), then idle."""
        self.connected.set()
        self.stats.connects += 1
        self._emit(self.registry.begin_resync())
        self._emit(self.registry.resync_complete(self.now()))
        for handler in self.handlers.on_resync:
            handler()
        await asyncio.Event().wait()

    # --- what the test does -----------------------------------------------------------

    def agent(self, agent: str, state: AgentStateName, group: str = "default") -> None:
        """The agent's desktop publishes a state (a fresh seq each time)."""
        msg = AgentStateMessage(state=state, seq=next(self._seq), ts=time.time(), group=group)
        result = self.registry.apply(agent, msg, self.now())
        assert not isinstance(result, Rejected), result
        if result is not None:
            self._emit([result])

    def stranger(self, agent: str, state: AgentStateName) -> Rejected:
        """Someone publishes a state the registry must refuse (not on the roster)."""
        msg = AgentStateMessage(state=state, seq=next(self._seq), ts=time.time())
        result = self.registry.apply(agent, msg, self.now())
        assert isinstance(result, Rejected), result
        for handler in self.handlers.on_rejected:
            handler(result)
        return result

    def link_down(self) -> None:
        """The broker went away: every agent is offline to the engine."""
        self.connected.clear()
        self.stats.disconnects += 1
        self._emit(self.registry.link_down())

    def reconnect(self, retained: dict[str, AgentStateName]) -> None:
        """The broker is back: the retained states are replayed, then the resync ends."""
        self.connected.set()
        self.stats.connects += 1
        self._emit(self.registry.begin_resync())
        for agent, state in retained.items():
            self.agent(agent, state)
        self._emit(self.registry.resync_complete(self.now()))
        for handler in self.handlers.on_resync:
            handler()

    async def control(self, campaign: str, action: str, actor: str = "sup") -> ControlReply:
        assert self.handlers.on_control is not None
        req = ControlRequest(request_id=f"r{next(self._ids)}", actor=actor, action=action)  # type: ignore[arg-type]
        return await self.handlers.on_control(campaign, req)

    async def pacing(self, campaign: str, actor: str = "sup", **changes: object) -> ControlReply:
        assert self.handlers.on_pacing is not None
        req = PacingChangeRequest(request_id=f"r{next(self._ids)}", actor=actor, changes=changes)
        reply = await self.handlers.on_pacing(campaign, req)
        assert reply is not None
        return reply

    def _emit(self, changes: list[AgentChange]) -> None:
        if changes:
            for handler in self.handlers.on_agent_changes:
                handler(changes)
