"""Campaign leases and node heartbeats: several engines on one PostgreSQL store.

Each campaign is run by the one node holding its lease (``campaign_leases``). A lease
has an owner, an expiry the owner pushes forward (:meth:`Leases.renew`) while it lives,
and a fencing token that grows by one on every acquisition. A node that dies stops
renewing; once the expiry passes another node acquires the lease (token + 1) and takes
the campaign over. Every write a node makes for a campaign checks, in the write's own
transaction, that the lease still carries that node's token
(:class:`~dialguard.store.fencing.FencedDatabase`): a node that was only paused (a long
GC, a stopped VM) and wakes after the takeover cannot write, so cannot dial.

The token is the safety; the expiry is only liveness. A lease whose expiry passed but
that nobody took is still its owner's to renew, and its writes still succeed: nobody
else can have written for the campaign meanwhile.

``engine_nodes`` lists the live nodes (each heartbeats its row) so each can take a fair
share of the campaigns (:mod:`dialguard.engine.leasing` decides).

Time is the store's clock (injectable; tests move it by hand). The nodes' clocks must
agree to well under the lease's lifetime (NTP does that); a skewed clock makes a node
take a lease early, which the token still makes safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialguard.store.database import Database, Tx
from dialguard.store.errors import StoreError

__all__ = ["Lease", "LeaseLost", "Leases", "check_fence"]


@dataclass(frozen=True, slots=True)
class Lease:
    """A campaign held by ``owner`` under ``token`` until ``expires_at`` (epoch s)."""

    campaign_id: str
    owner: str
    token: int
    expires_at: float


class LeaseLost(StoreError):
    """This node no longer holds the campaign's lease: it must not write for it."""


_ACQUIRE = (
    "INSERT INTO campaign_leases (campaign_id, owner, token, acquired_at, expires_at)"
    " VALUES (?, ?, 1, ?, ?)"
    " ON CONFLICT (campaign_id) DO UPDATE SET owner = excluded.owner,"
    " token = campaign_leases.token + 1, acquired_at = excluded.acquired_at,"
    " expires_at = excluded.expires_at"
    " WHERE campaign_leases.expires_at <= ? OR campaign_leases.owner = excluded.owner"
    " RETURNING token, expires_at"
)


async def check_fence(tx: Tx, lease: Lease, lock_suffix: str) -> None:
    """Raise :class:`LeaseLost` unless ``lease`` still holds its campaign, inside the
    caller's transaction; ``lock_suffix`` (``FOR SHARE``) keeps the lease row from
    changing hands until that transaction ends, so a takeover waits for the write."""
    cur = await tx.execute(
        "SELECT owner, token FROM campaign_leases WHERE campaign_id = ?" + lock_suffix,
        (lease.campaign_id,),
    )
    row = await cur.fetchone()
    await cur.close()
    if row is None or (row[0], int(row[1])) != (lease.owner, lease.token):
        holder = "nobody" if row is None else f"{row[0]} (token {row[1]})"
        raise LeaseLost(
            f"campaign {lease.campaign_id!r}: node {lease.owner} lost its lease (token"
            f" {lease.token}); it is now held by {holder}, so this node may not write for it"
        )


class Leases:
    """The ``campaign_leases`` and ``engine_nodes`` tables."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def acquire(
        self, campaign_id: str, owner: str, ttl_s: float, *, now: float | None = None
    ) -> Lease | None:
        """Take the campaign if nobody holds it, its lease expired, or ``owner`` already
        holds it (a restarted node); the new lease (token + 1), or None if another node
        holds it."""
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            cur = await tx.execute(_ACQUIRE, (campaign_id, owner, ts, ts + ttl_s, ts))
            row = await cur.fetchone()
            await cur.close()
        if row is None:
            return None
        return Lease(campaign_id, owner, int(row[0]), float(row[1]))

    async def renew(self, lease: Lease, ttl_s: float, *, now: float | None = None) -> Lease:
        """Push the lease's expiry to ``now + ttl_s``; :class:`LeaseLost` if another node
        acquired it since (its token moved on)."""
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            cur = await tx.execute(
                "UPDATE campaign_leases SET expires_at = ?"
                " WHERE campaign_id = ? AND owner = ? AND token = ?",
                (ts + ttl_s, lease.campaign_id, lease.owner, lease.token),
            )
            if cur.rowcount == 0:
                await check_fence(tx, lease, "")  # raises, naming the new holder
                raise LeaseLost(f"campaign {lease.campaign_id!r}: lease row vanished")
        return Lease(lease.campaign_id, lease.owner, lease.token, ts + ttl_s)

    async def release(self, lease: Lease, *, now: float | None = None) -> None:
        """Give the campaign up now (a clean stop or a hand-over): expired at once, so
        another node may take it; the token stays, so the next holder's is higher."""
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE campaign_leases SET expires_at = ?"
                " WHERE campaign_id = ? AND owner = ? AND token = ?",
                (ts, lease.campaign_id, lease.owner, lease.token),
            )

    async def all(self) -> list[Lease]:
        """Every campaign's lease (live or expired), by campaign."""
        rows = await self._db.fetchall(
            "SELECT campaign_id, owner, token, expires_at FROM campaign_leases ORDER BY campaign_id"
        )
        return [Lease(r[0], r[1], int(r[2]), float(r[3])) for r in rows]

    # ------------------------------------------------------------------ nodes

    async def heartbeat(self, node_id: str, ttl_s: float, *, now: float | None = None) -> None:
        """``node_id`` is alive until ``now + ttl_s``."""
        ts = self._db.now(now)
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO engine_nodes (node_id, started_at, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at",
                (node_id, ts, ts + ttl_s),
            )

    async def live_nodes(self, *, now: float | None = None) -> list[str]:
        """The nodes whose heartbeat has not expired, by id."""
        rows = await self._db.fetchall(
            "SELECT node_id FROM engine_nodes WHERE expires_at > ? ORDER BY node_id",
            (self._db.now(now),),
        )
        return [str(r[0]) for r in rows]

    async def leave(self, node_id: str) -> None:
        """A clean stop: the node is gone at once (the others rebalance without waiting)."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM engine_nodes WHERE node_id = ?", (node_id,))
