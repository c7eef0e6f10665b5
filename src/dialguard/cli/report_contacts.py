"""``dialguard report contacts``: who is called next, and why (issue 15).

Supervisors and regulators ask why this person is called now and that one later. Under
``order = "expected_value"`` the answer is a handful of figures, and this report shows
them for the next contacts in the campaign's own order: the answer model's probability
at the contact's local hour and the three levels behind it (campaign, segment, contact,
each with the tries it rests on), the business's propensity, the expected value, how
long the contact has waited (the fairness term) and its best hours of the coming day.
Under ``list`` and ``priority`` the same figures are shown, for what the model would
say; the order is then the file's or the priority's.

It reads the store only (the model is rebuilt from ``answer_stats`` as the engine does
at start); it never changes a score.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from dialguard.engine.right_time import RightTime, due_since, group_of
from dialguard.propensity.model import HOURS_OF_WEEK
from dialguard.propensity.score import explain_score
from dialguard.store import ContactRecord, Store

__all__ = ["NextContact", "next_contacts", "render_json", "render_table"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class NextContact:
    rank: int
    contact: ContactRecord
    figures: dict[str, Any]


def hour_name(hour_of_week: int) -> str:
    """``Tue 18h`` for hour 42 of the week (Monday 00h is 0), local to the contact."""
    h = hour_of_week % HOURS_OF_WEEK
    return f"{_DAYS[h // 24]} {h % 24:02d}h"


async def next_contacts(
    store: Store, campaign_id: str, order: str, now: float, limit: int
) -> list[NextContact]:
    """The next ``limit`` due contacts in ``order``, each with the figures of its score."""
    right = RightTime(store, campaign_id)
    await right.load()
    out = []
    for rank, c in enumerate(await store.contacts.due(campaign_id, now, limit, order), 1):
        e = explain_score(
            right.model, c.id, group_of(c), c.propensity, c.timezones, due_since(c), now
        )
        a = e.answer
        out.append(
            NextContact(
                rank,
                c,
                {
                    "local_hour": hour_name(a.hour_of_week),
                    "p_answer": round(a.probability, 4),
                    "p_campaign": round(a.campaign, 4),
                    "campaign_tries": a.campaign_tries,
                    "p_segment": round(a.segment, 4),
                    "segment_tries": a.segment_tries,
                    "p_contact": round(a.contact, 4),
                    "contact_tries": a.contact_tries,
                    "exploration": round(a.exploration, 4),
                    "propensity": e.propensity,
                    "expected_value": round(e.expected_value, 4),
                    "waited_h": round(e.waited_s / 3600, 2),
                    "stored_score": c.order_score,
                    "best_hours": [
                        {"hour": hour_name(h), "p_answer": round(p, 4)} for h, p in e.best_hours
                    ],
                },
            )
        )
    return out


def render_json(rows: list[NextContact], order: str, now: float) -> str:
    return json.dumps(
        {
            "order": order,
            "at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
            "contacts": [
                {
                    "rank": r.rank,
                    "contact_id": r.contact.id,
                    "number": r.contact.number,
                    "segment": r.contact.segment,
                    "priority": r.contact.priority,
                    **r.figures,
                }
                for r in rows
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def render_table(rows: list[NextContact], campaign: str, order: str) -> Table:
    """The people's view; ``--format json`` adds the model's levels and their tries."""
    table = Table(title=f"Next contacts: campaign {campaign}, order {order}")
    table.add_column("#", justify="right")
    table.add_column("number", no_wrap=True)
    table.add_column("segment")
    table.add_column("local hour", no_wrap=True)
    for name in ("P(answer)", "propensity", "value", "waited"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("best hours (next 24 h)")
    for r in rows:
        f = r.figures
        table.add_row(
            str(r.rank),
            r.contact.number,
            r.contact.segment or "—",
            f["local_hour"],
            f"{f['p_answer']:.1%}",
            f"{f['propensity']:.2f}",
            f"{f['expected_value']:.3f}",
            f"{f['waited_h']:.1f} h",
            ", ".join(f"{b['hour']} {b['p_answer']:.0%}" for b in f["best_hours"]),
        )
    return table
