"""The rows the store hands out and takes in, as small frozen dataclasses.

Callers (engine, reports, import) get typed values with JSON columns already decoded,
rather than raw ``sqlite3.Row`` objects whose column names and encodings they would each
have to know.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "ATTEMPT_OUTCOMES",
    "CAMPAIGN_STATES",
    "CONTACT_STATUSES",
    "DNC_SOURCES",
    "AttemptRecord",
    "AuditRecord",
    "CampaignRecord",
    "CampaignState",
    "ContactRecord",
    "ContactStatus",
    "DncListInfo",
    "DncSource",
    "DueSummary",
    "InsertCounts",
    "NewContact",
    "PacingOverride",
    "SkipRecord",
    "SuppressionHit",
]

CampaignState = Literal["active", "paused", "stopped"]
ContactStatus = Literal["pending", "in_progress", "done", "exhausted", "dnc"]
BuiltInSource = Literal["internal", "tps", "ctps", "usdnc", "bloctel", "dncr"]
DncSource = str
"""A list's name: a built-in one (:data:`DNC_SOURCES`) or one the engine config declares
(``[[dnc_list]]``); any lower-case token (:data:`dialguard.law.LIST_NAME_PATTERN`)."""
AttemptOutcome = Literal[
    "connected",
    "abandoned",
    "busy",
    "no_answer",
    "unavailable",
    "invalid",
    "rejected",
    "failed",
    "voicemail",
    "interrupted",
    "cancelled",
]

CAMPAIGN_STATES: tuple[str, ...] = get_args(CampaignState)
CONTACT_STATUSES: tuple[str, ...] = get_args(ContactStatus)
DNC_SOURCES: tuple[str, ...] = get_args(BuiltInSource)
"""The lists every dialguard knows; declared ones come from the engine config."""
ATTEMPT_OUTCOMES: tuple[str, ...] = get_args(AttemptOutcome)


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True, slots=True)
class InsertCounts:
    """What a batch insert did: rows new to the store, and rows it already had."""

    inserted: int
    already_present: int


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    id: str
    name: str
    config_json: str
    state: str
    created_at: float
    updated_at: float

    @property
    def config(self) -> dict[str, Any]:
        """The campaign's configuration as stored (validate it with ``parse_campaign``)."""
        data: dict[str, Any] = json.loads(self.config_json)
        return data

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CampaignRecord:
        return cls(**{k: row[k] for k in row.keys()})  # noqa: SIM118 (Row is not a dict)


@dataclass(frozen=True, slots=True)
class PacingOverride:
    """A pacing field a supervisor changed live: the value, who and when, and what the
    campaign file said at that moment (so a later edit of the file can be told apart
    from the file as it was; docs/supervisor.md "Who owns a campaign's settings")."""

    field: str
    value: Any
    file_value: Any
    actor: str
    ts: float


@dataclass(frozen=True, slots=True)
class DueSummary:
    """A campaign's contacts as the dialler sees them: how many are left to call, how
    many are due now, and when the next one is due with the rule that parked it."""

    pending: int
    due_now: int
    next_due_at: float | None
    next_rule: str | None
    next_reason: str | None


@dataclass(frozen=True, slots=True)
class NewContact:
    """A contact to insert: ``number`` already E.164 (see :func:`dialguard.phone.parse_number`)."""

    number: str
    region: str
    timezones: tuple[str, ...] = ()
    name: str | None = None
    priority: int = 0
    consent: str | None = None
    preferred_channel: str | None = None
    preferred_hours: dict[str, str] | None = None
    custom: dict[str, str] = field(default_factory=dict)
    voice_consent: str = "unknown"
    consent_date: str | None = None
    consent_source: str | None = None
    segment: str | None = None
    propensity: float | None = None
    offer_key: str | None = None


@dataclass(frozen=True, slots=True)
class ContactRecord:
    id: int
    campaign_id: str
    number: str
    region: str
    timezones: tuple[str, ...]
    name: str | None
    priority: int
    consent: str | None
    preferred_channel: str | None
    preferred_hours: dict[str, str] | None
    custom: dict[str, str]
    status: str
    attempts: int
    next_attempt_at: float
    last_outcome: str | None
    created_at: float
    # the contact's profile (docs/contacts.md); defaults for rows from before migration 5
    voice_consent: str = "unknown"
    consent_date: str | None = None
    consent_source: str | None = None
    segment: str | None = None
    propensity: float | None = None
    offer_key: str | None = None
    order_score: float = 0.0  # expected value of a call now (store/ordering.py keeps it)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ContactRecord:
        values = {k: row[k] for k in row.keys()}  # noqa: SIM118 (Row is not a dict)
        values["timezones"] = tuple(json.loads(values["timezones"]))
        values["preferred_hours"] = _json_or_none(values["preferred_hours"])
        values["custom"] = json.loads(values["custom"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SuppressionHit:
    """One list a number is on, and the date of the list it came from (None if internal)."""

    source: str
    list_date: str | None
    reason: str | None
    added_at: float


@dataclass(frozen=True, slots=True)
class DncListInfo:
    """The newest imported national list of one source."""

    source: str
    list_date: str
    imported_at: float
    rows: int


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    campaign_id: str
    contact_id: int | None
    number: str
    mode: str
    agent_id: str | None
    call_id: str | None
    created_at: float
    invite_at: float | None
    ringing_at: float | None
    answered_at: float | None
    connected_at: float | None
    ended_at: float | None
    outcome: AttemptOutcome | None
    sip_code: int | None
    abandoned: bool
    abandon_reason: str | None
    ended_by: str | None
    disposition: str | None
    message_played_at: float | None
    opted_out: bool
    trunk_fault: bool = False  # the trunk refused (503/408 storm): not the contact's fault

    @property
    def dialled_at(self) -> float:
        """When the call was dialled: its INVITE, or the row's creation for an attempt
        that never sent one (refused before the INVITE, or interrupted by a crash)."""
        return self.invite_at if self.invite_at is not None else self.created_at

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AttemptRecord:
        values = {k: row[k] for k in row.keys()}  # noqa: SIM118 (Row is not a dict)
        values["abandoned"] = bool(values["abandoned"])
        values["opted_out"] = bool(values["opted_out"])
        values["trunk_fault"] = bool(values.get("trunk_fault", 0))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SkipRecord:
    id: int
    ts: float
    campaign_id: str
    contact_id: int | None
    rule: str
    reason: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SkipRecord:
        return cls(**{k: row[k] for k in row.keys()})  # noqa: SIM118 (Row is not a dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    ts: float
    actor: str
    action: str
    campaign_id: str | None
    old: Any
    new: Any
    detail: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AuditRecord:
        values = {k: row[k] for k in row.keys()}  # noqa: SIM118 (Row is not a dict)
        values["old"] = _json_or_none(values["old"])
        values["new"] = _json_or_none(values["new"])
        return cls(**values)
