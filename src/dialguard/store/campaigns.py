"""Campaigns: their name, stored configuration and state (``active``/``paused``/``stopped``).

Every change is audited in the same transaction: a supervisor's start, pause or config
edit is a compliance fact. A new campaign starts ``paused``, so loading a list never
starts dialling by itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from dialguard.store.audit import AuditLog
from dialguard.store.database import Database, check_choice, dumps
from dialguard.store.errors import UnknownRecord
from dialguard.store.records import CAMPAIGN_STATES, CampaignRecord, CampaignState, PacingOverride

__all__ = ["Campaigns"]


class Campaigns:
    """The ``campaigns`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def upsert(
        self,
        campaign_id: str,
        name: str,
        config_json: str,
        *,
        state: CampaignState | None = None,
        actor: str = "system",
        now: float | None = None,
    ) -> CampaignRecord:
        """Create the campaign or update its name and config; audited when anything changes.

        A new campaign starts ``paused`` unless ``state`` says otherwise; ``state=None``
        keeps an existing campaign's state.
        """
        if state is not None:
            check_choice("campaign state", state, CAMPAIGN_STATES)
        try:
            config = json.loads(config_json)
        except ValueError as e:
            raise ValueError(f"campaign {campaign_id}: config_json is not JSON ({e})") from None
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            old = await self._db.fetchone("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
            if old is None:
                await tx.execute(
                    "INSERT INTO campaigns (id, name, config_json, state, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (campaign_id, name, config_json, state or "paused", ts, ts),
                )
                new = {"name": name, "state": state or "paused", "config": config}
                await AuditLog.write(tx, ts, actor, "campaign.created", campaign_id, None, new)
            else:
                new_state = state or old["state"]
                changed = (old["name"], old["config_json"], old["state"]) != (
                    name,
                    config_json,
                    new_state,
                )
                if changed:
                    await tx.execute(
                        "UPDATE campaigns SET name = ?, config_json = ?, state = ?, "
                        "updated_at = ? WHERE id = ?",
                        (name, config_json, new_state, ts, campaign_id),
                    )
                    before = {
                        "name": old["name"],
                        "state": old["state"],
                        "config": json.loads(old["config_json"]),
                    }
                    after = {"name": name, "state": new_state, "config": config}
                    await AuditLog.write(
                        tx, ts, actor, "campaign.updated", campaign_id, before, after
                    )
        return await self._must_get(campaign_id)

    async def get(self, campaign_id: str) -> CampaignRecord | None:
        row = await self._db.fetchone("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
        return None if row is None else CampaignRecord.from_row(row)

    async def all(self) -> list[CampaignRecord]:
        """Every campaign, by id."""
        rows = await self._db.fetchall("SELECT * FROM campaigns ORDER BY id")
        return [CampaignRecord.from_row(r) for r in rows]

    async def set_state(
        self, campaign_id: str, state: CampaignState, *, actor: str, now: float | None = None
    ) -> CampaignRecord:
        """Change a campaign's state and audit who did it. Raises UnknownRecord if absent."""
        check_choice("campaign state", state, CAMPAIGN_STATES)
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            row = await self._db.fetchone(
                "SELECT state FROM campaigns WHERE id = ?", (campaign_id,)
            )
            if row is None:
                raise UnknownRecord(f"campaign {campaign_id!r} is not in the store")
            if row["state"] != state:
                await tx.execute(
                    "UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ?",
                    (state, ts, campaign_id),
                )
                await AuditLog.write(
                    tx,
                    ts,
                    actor,
                    "campaign.state",
                    campaign_id,
                    {"state": row["state"]},
                    {"state": state},
                )
        return await self._must_get(campaign_id)

    async def pacing_overrides(self, campaign_id: str) -> dict[str, PacingOverride]:
        """The pacing fields a supervisor set live for this campaign, by field."""
        rows = await self._db.fetchall(
            "SELECT * FROM pacing_overrides WHERE campaign_id = ? ORDER BY field", (campaign_id,)
        )
        return {
            r["field"]: PacingOverride(
                r["field"], json.loads(r["value"]), json.loads(r["file_value"]), r["actor"], r["ts"]
            )
            for r in rows
        }

    async def save_pacing_overrides(
        self, campaign_id: str, overrides: Iterable[PacingOverride]
    ) -> None:
        """Replace the campaign's live-set pacing fields with ``overrides`` (one transaction)."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM pacing_overrides WHERE campaign_id = ?", (campaign_id,))
            await tx.executemany(
                "INSERT INTO pacing_overrides (campaign_id, field, value, file_value, actor, ts)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (campaign_id, o.field, dumps(o.value), dumps(o.file_value), o.actor, o.ts)
                    for o in overrides
                ],
            )

    async def require(self, campaign_id: str) -> None:
        """UnknownRecord naming the campaign unless the store has it."""
        if await self.get(campaign_id) is None:
            raise UnknownRecord(f"campaign {campaign_id!r} is not in the store")

    async def _must_get(self, campaign_id: str) -> CampaignRecord:
        record = await self.get(campaign_id)
        assert record is not None
        return record
