"""The MQTT contract: topic names and the pydantic models of every payload on them.

Agent desktops, supervisors' tools and the engine only ever meet on the broker, so this
module *is* the contract between them (docs/mqtt.md is generated from these models).
Everything that arrives from the broker is untrusted: :func:`parse_payload` turns bytes
into a model or raises :class:`PayloadError` naming the topic and what was wrong, so a
bad message is logged and dropped instead of crashing the engine.

Topics (``{p}`` is the configured prefix, ``dialguard`` by default)::

    {p}/agents/{agent}/state        agent → engine   retained, QoS 1; will = offline
    {p}/agents/{agent}/call         engine → agent   QoS 1: offer / connected / ended
    {p}/agents/{agent}/disposition  agent → engine   QoS 1
    {p}/campaigns/{id}/control      supervisor → engine   start|pause|resume|stop
    {p}/campaigns/{id}/pacing       supervisor → engine   partial PacingConfig change
    {p}/campaigns/{id}/events       engine → supervisor   reply to control/pacing
    {p}/engine/status               engine → anyone  retained snapshot every 1–2 s
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
)

from dialguard.config import PacingConfig, PacingMode
from dialguard.config.engine import TOPIC_LEVEL_PATTERN, topic_prefix_problem
from dialguard.law import MAX_ABANDON_CAP
from dialguard.pacing.events import AGENT_STATES as AGENT_STATES

if TYPE_CHECKING:
    from dialguard.store import ContactRecord
from dialguard.pacing.events import AgentState as _AgentState

# The agent states are the pacer's vocabulary, defined once in dialguard.pacing.events;
# named here too because they are part of the wire contract.
AgentStateName: TypeAlias = _AgentState

# An agent or campaign id is one MQTT topic level: no '/', no wildcards, no spaces.
ID_PATTERN: Final = TOPIC_LEVEL_PATTERN
_ID = re.compile(ID_PATTERN)
AgentId = Annotated[str, Field(pattern=ID_PATTERN)]
CampaignId = Annotated[str, Field(pattern=ID_PATTERN)]
RequestId = Annotated[str, Field(min_length=1, max_length=64)]
Actor = Annotated[str, Field(min_length=1, max_length=64)]
# Epoch seconds. Bounded so a desktop sending milliseconds is told so, not believed.
Epoch = Annotated[float, Field(gt=1_000_000_000, lt=100_000_000_000)]
# A state sequence number: JSON integer only ("5", 5.0 and true are refused).
Seq = Annotated[StrictInt, Field(ge=0, le=2**53)]


class _Payload(BaseModel):
    """Strict, frozen, no unknown fields: a typo in a desktop's payload is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- agent → engine ------------------------------------------------------------------


class AgentStateMessage(_Payload):
    """An agent desktop's state, retained on ``…/agents/{agent}/state``.

    ``session`` is a random id the desktop picks when it starts; ``seq`` counts up from 0
    within a session, by one on every state change and on every (re)connection. Together
    they order messages even when QoS 1 redelivers, the broker replays a retained copy,
    or the desktop restarts and its seq starts again. A heartbeat is the same message
    republished (same session and seq, fresh ``ts``).
    """

    state: AgentStateName
    seq: Seq
    ts: Epoch
    session: Annotated[str, Field(min_length=1, max_length=64)] = "-"
    group: AgentId = Field(
        default="default",
        description="ignored: the engine's agent roster says what an agent serves",
    )
    agent: AgentId | None = Field(
        default=None, description="if present, must equal the agent id in the topic"
    )


class Disposition(_Payload):
    """What the agent recorded about a call, sent when the call (and wrap-up) is done."""

    call_id: Annotated[str, Field(min_length=1, max_length=128)]
    campaign: CampaignId
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    note: Annotated[str, Field(max_length=1000)] = ""
    ts: Epoch
    agent: AgentId | None = None


# --- engine → agent ------------------------------------------------------------------


class ContactCard(_Payload):
    """What the agent's screen shows about the callee. The number is needed to talk to
    them (and is masked in every log line, never here)."""

    number: Annotated[str, Field(min_length=3, max_length=32)]
    name: Annotated[str, Field(max_length=200)] = ""
    custom: dict[str, str] = Field(default_factory=dict)
    # what the business knows, so the conversation starts from it (docs/contacts.md)
    segment: Annotated[str, Field(max_length=64)] | None = None
    offer_key: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="the offer or script to open with"
    )
    preferred_channel: Literal["voice", "sms", "email", "none"] | None = None
    voice_consent: Literal["yes", "no", "unknown"] = "unknown"
    consent_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    consent_source: Annotated[str, Field(max_length=64)] | None = None

    @classmethod
    def of(cls, contact: ContactRecord) -> ContactCard:
        """The card of a stored contact."""
        return cls(
            number=contact.number,
            name=contact.name or "",
            custom={k: str(v) for k, v in contact.custom.items()},
            segment=contact.segment,
            offer_key=contact.offer_key,
            preferred_channel=contact.preferred_channel,  # checked at import
            voice_consent=contact.voice_consent,
            consent_date=contact.consent_date,
            consent_source=contact.consent_source,
        )


class HandoffMessage(_Payload):
    """``dialguard/handoff/{channel}``: a contact who asked for another channel (sms,
    email, or none: record "do not contact"), handed over instead of dialled. Once per
    campaign and contact; ``handoff_id`` is unique, for a consumer to drop a repeat
    after an engine crash (engine/handoff.py)."""

    handoff_id: Annotated[int, Field(ge=1)]
    campaign: CampaignId
    contact_id: Annotated[int, Field(ge=1)]
    number: Annotated[str, Field(min_length=3, max_length=32)]
    name: Annotated[str, Field(max_length=200)] | None = None
    channel: Literal["sms", "email", "none"]
    reason: Annotated[str, Field(max_length=500)]
    segment: Annotated[str, Field(max_length=64)] | None = None
    offer_key: Annotated[str, Field(max_length=64)] | None = None
    voice_consent: Literal["yes", "no", "unknown"] = "unknown"
    at: Epoch


AgentCallKind = Literal["offer", "connected", "ended", "wrap_up_ended"]


class AgentCallMessage(_Payload):
    """The engine tells an agent about a call: ``offer`` (the callee answered and is
    being transferred to you), ``connected`` (you are talking), ``ended`` (hang-up;
    wrap-up starts; ``wrap_up_cap_s`` says how long it may last when the campaign caps
    it), ``wrap_up_ended`` (the cap is reached: the engine counts you ready now; publish
    ``ready`` or ``paused``)."""

    event: AgentCallKind
    call_id: Annotated[str, Field(min_length=1, max_length=128)]
    campaign: CampaignId
    ts: Epoch
    contact: ContactCard | None = None
    outcome: Annotated[str, Field(max_length=64)] | None = None
    wrap_up_cap_s: Annotated[float, Field(gt=0, le=600)] | None = None


# --- supervisor ↔ engine -------------------------------------------------------------

ControlAction = Literal["start", "pause", "resume", "stop"]


class ControlRequest(_Payload):
    """A supervisor starts, pauses, resumes or stops a campaign."""

    request_id: RequestId
    actor: Actor
    action: ControlAction
    ts: Epoch | None = None


class PacingChangeRequest(_Payload):
    """A supervisor changes some pacing fields of a running campaign."""

    request_id: RequestId
    actor: Actor
    changes: dict[str, Any] = Field(min_length=1)
    ts: Epoch | None = None

    def apply_to(self, current: PacingConfig) -> PacingConfig:
        """The pacing that results, validated with the same legal floors as a file.

        Raises :class:`ValueError` with one line per problem (``abandon_cap = 0.05: must
        be …``) so the reply on the events topic tells the supervisor why.
        """
        merged = {**current.model_dump(), **self.changes}
        try:
            return PacingConfig.model_validate(merged)
        except ValidationError as e:
            raise ValueError(_describe(e, self.changes)) from None


class ControlReply(_Payload):
    """The engine's answer on ``…/campaigns/{id}/events``; ``old``/``new`` show what
    changed so the audit trail and the command line can print it. ``warnings``: why an
    accepted start or resume will still dial nothing yet (the campaign's blocking
    reasons), so a supervisor hears it from the command, not from the daemon's log."""

    request_id: RequestId
    kind: Literal["control", "pacing"]
    accepted: StrictBool
    reason: str = ""
    actor: str = ""
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    ts: Epoch
    warnings: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list)


# --- engine status (retained) --------------------------------------------------------

BlockCode = Literal[
    "dnc_list_missing",
    "dnc_list_stale",
    "no_contacts",
    "nothing_due",
    "outside_calling_window",
    "no_agents",
    "agents_not_synced",
    "trunk_paused",
    "store_not_writable",
    "abandon_cap_spent",
]
"""Why a running campaign dials nothing (or, for ``abandon_cap_spent``, no more than one
call per free agent). docs/supervisor.md "Why a running campaign dials nothing" lists
each with what to do."""


class BlockReason(_Payload):
    """One reason a campaign is held, with the sentence (and the fix) to show a person."""

    code: BlockCode
    message: Annotated[str, Field(max_length=500)]


class CampaignStatus(_Payload):
    id: CampaignId
    state: Literal["running", "paused", "stopped", "starting", "draining"]
    mode: PacingMode
    dials: int = 0
    answers: int = 0
    connects: int = 0
    abandoned: int = 0
    in_flight: int = 0
    abandon_rate: float = 0.0
    abandon_cap: float = MAX_ABANDON_CAP
    blocked: list[BlockReason] = Field(
        default_factory=list, description="why it dials nothing now; empty when it may dial"
    )
    dials_last_min: int = Field(default=0, ge=0, description="INVITEs sent in the last 60 s")
    contacts_left: int | None = Field(
        default=None,
        ge=0,
        description="contacts still to call (retries included); None: not read yet",
    )


class AgentStatus(_Payload):
    agent: AgentId
    state: AgentStateName
    group: str
    stale: bool
    reserved: bool = Field(
        default=False, description="ready, but held for a call that is ringing for them"
    )
    campaign: CampaignId | None = Field(default=None, description="the campaign it works for")
    since: Epoch | None = Field(default=None, description="when it entered this state")
    call: Annotated[str, Field(max_length=32)] | None = Field(
        default=None,
        description="the number of the call it is on, connecting or reserved for, masked "
        "(+*********123): enough to find it in a report, not enough to call",
    )


class EngineStatus(_Payload):
    """Snapshot the engine publishes (retained) on ``…/engine/status`` every 1–2 s;
    ``dialguard status`` reads it. ``ts`` lets a reader tell a dead engine's last word
    from a live one."""

    engine_id: str
    ts: Epoch
    broker_connected: bool
    agents_synced: bool
    campaigns: list[CampaignStatus] = Field(default_factory=list)
    agents_by_state: dict[AgentStateName, int] = Field(default_factory=dict)
    agents: list[AgentStatus] = Field(default_factory=list)
    counters: dict[str, float] = Field(default_factory=dict)
    trunk: Literal["closed", "open", "half_open"] = "closed"
    trunk_reason: Annotated[str, Field(max_length=200)] = ""
    store_writes_ok: bool = True


# --- topics --------------------------------------------------------------------------

TopicKind = Literal[
    "agent_state",
    "agent_call",
    "agent_disposition",
    "campaign_control",
    "campaign_pacing",
    "campaign_events",
    "engine_status",
    "engine_sync",
]


_LEAF_KINDS: Final[dict[tuple[str, str], TopicKind]] = {
    ("agents", "state"): "agent_state",
    ("agents", "call"): "agent_call",
    ("agents", "disposition"): "agent_disposition",
    ("campaigns", "control"): "campaign_control",
    ("campaigns", "pacing"): "campaign_pacing",
    ("campaigns", "events"): "campaign_events",
}


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """A topic taken apart: what kind of message it carries and for whom."""

    kind: TopicKind
    key: str  # the agent or campaign id ("" for engine topics)


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names under one prefix, so two deployments can share a broker."""

    prefix: str = "dialguard"

    def __post_init__(self) -> None:
        problem = topic_prefix_problem(self.prefix)
        if problem is not None:
            raise ValueError(f"topic prefix {self.prefix!r}: {problem}")

    def agent_state(self, agent: str) -> str:
        return f"{self.prefix}/agents/{_level(agent, 'agent')}/state"

    def agent_call(self, agent: str) -> str:
        return f"{self.prefix}/agents/{_level(agent, 'agent')}/call"

    def agent_disposition(self, agent: str) -> str:
        return f"{self.prefix}/agents/{_level(agent, 'agent')}/disposition"

    def campaign_control(self, campaign: str) -> str:
        return f"{self.prefix}/campaigns/{_level(campaign, 'campaign')}/control"

    def campaign_pacing(self, campaign: str) -> str:
        return f"{self.prefix}/campaigns/{_level(campaign, 'campaign')}/pacing"

    def handoff(self, channel: str) -> str:
        return f"{self.prefix}/handoff/{_level(channel, 'channel')}"

    def campaign_events(self, campaign: str) -> str:
        return f"{self.prefix}/campaigns/{_level(campaign, 'campaign')}/events"

    @property
    def engine_status(self) -> str:
        return f"{self.prefix}/engine/status"

    def engine_sync(self, client_id: str) -> str:
        """Private topic the engine pings itself on to learn that the broker has sent
        every retained message queued before it (see mqtt.BrokerLink)."""
        return f"{self.prefix}/engine/sync/{_level(client_id, 'client id')}"

    # wildcards the engine subscribes to
    @property
    def all_agent_states(self) -> str:
        return f"{self.prefix}/agents/+/state"

    @property
    def all_dispositions(self) -> str:
        return f"{self.prefix}/agents/+/disposition"

    @property
    def all_controls(self) -> str:
        return f"{self.prefix}/campaigns/+/control"

    @property
    def all_pacing(self) -> str:
        return f"{self.prefix}/campaigns/+/pacing"

    def parse(self, topic: str) -> TopicMatch | None:
        """What a topic is, or ``None`` if it is not one of ours."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) == 3 and parts[0] in ("agents", "campaigns") and _ID.match(parts[1]):
            kind = _LEAF_KINDS.get((parts[0], parts[2]))
            if kind is not None:
                return TopicMatch(kind, parts[1])
        if parts == ["engine", "status"]:
            return TopicMatch("engine_status", "")
        if len(parts) == 3 and parts[:2] == ["engine", "sync"]:
            return TopicMatch("engine_sync", parts[2])
        return None


def _level(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{what} {value!r} is not a valid topic level (letters, digits, _.-)")
    return value


# --- parsing -------------------------------------------------------------------------


class PayloadError(ValueError):
    """A message that cannot be accepted; ``str()`` is one log-ready line."""

    def __init__(self, topic: str, problem: str) -> None:
        super().__init__(f"{topic}: {problem}")
        self.topic = topic
        self.problem = problem


M = TypeVar("M", bound=BaseModel)

MAX_PAYLOAD_BYTES: Final = 64 * 1024


def parse_payload(model: type[M], topic: str, payload: bytes | bytearray | str) -> M:
    """Decode and validate one message, or raise :class:`PayloadError` saying why."""
    if isinstance(payload, str):
        payload = payload.encode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(topic, f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    if not payload:
        raise PayloadError(topic, "empty payload")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PayloadError(topic, f"not JSON ({e})") from None
    except RecursionError:  # e.g. 60,000 '[': json recurses once per level
        raise PayloadError(topic, "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise PayloadError(topic, f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise PayloadError(topic, f"invalid {model.__name__}: {_describe(e, data)}") from None


def _describe(err: ValidationError, data: dict[str, Any]) -> str:
    """``seq = '5': Input should be a valid integer; foo: Extra inputs are not permitted``"""
    parts = []
    for item in err.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "(payload)"
        top = item["loc"][0] if item["loc"] else None
        shown = f" = {data[top]!r}" if isinstance(top, str) and top in data else ""
        msg = item["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}{shown}: {msg}")
    return "; ".join(parts)


def encode(model: BaseModel) -> bytes:
    """The wire form of a payload: compact JSON, no ``None`` fields."""
    return model.model_dump_json(exclude_none=True).encode()


SCHEMA_MODELS: Final[tuple[type[BaseModel], ...]] = (
    AgentStateMessage,
    AgentCallMessage,
    HandoffMessage,
    Disposition,
    ControlRequest,
    PacingChangeRequest,
    ControlReply,
    EngineStatus,
)


def schema_markdown() -> str:
    """The JSON Schemas of every payload, as the Markdown block docs/mqtt.md embeds
    (``python -m dialguard.mqtt.contract`` prints it; a test keeps the doc in step)."""
    out = []
    for model in SCHEMA_MODELS:
        schema = json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False)
        out.append(f"### {model.__name__}\n\n```json\n{schema}\n```\n")
    return "\n".join(out)


if __name__ == "__main__":
    print(schema_markdown(), end="")
