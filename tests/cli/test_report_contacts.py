"""`dialguard report contacts`: the next contacts in the campaign's order, each with the
figures of its score, read from what the engine persisted (answer_stats, scores)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from dialguard.config import parse_campaign
from dialguard.engine.right_time import RightTime
from dialguard.store import NewContact, Store
from tests.cli.test_campaign import run

NY = ("America/New_York",)
EAGER, SHY = "+12125550101", "+12125550102"


async def _fill(path: Path, now: float) -> None:
    config = parse_campaign(
        {
            "id": "c1",
            "name": "C1",
            "caller_id": "+12025550123",
            "calling_window": {"regime": "none"},
            "order": "expected_value",
        }
    ).model_dump_json()
    async with await Store.open(path) as store:
        await store.campaigns.upsert("c1", "C1", config, state="active")
        await store.contacts.insert(
            "c1",
            [
                NewContact(EAGER, "US", NY, segment="eager", propensity=0.9),
                NewContact(SHY, "US", NY, segment="shy", propensity=0.9),
            ],
            now=now - 60,
        )
        right = RightTime(store, "c1")
        by_number = {c.number: c for c in await store.contacts.due("c1", now, 10)}
        for _ in range(6):  # the same hour: "eager" answers, "shy" does not
            await right.observe(by_number[EAGER], "connected", now - 7 * 24 * 3600)
            await right.observe(by_number[SHY], "no_answer", now - 7 * 24 * 3600)
        await right.refresh(now, force=True)


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    asyncio.run(_fill(tmp_path / "store.sqlite3", time.time()))
    capsys.readouterr()
    path = tmp_path / "dialguard.toml"
    path.write_text('[store]\npath = "store.sqlite3"\n[logging]\nformat = "json"\n')
    return str(path)


def test_the_likelier_answerer_comes_first_with_the_figures_behind_it(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run("report", "contacts", "--campaign", "c1", "--format", "json", "--config", config) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["order"] == "expected_value"
    first, second = out["contacts"]
    assert (first["number"], second["number"]) == (EAGER, SHY)
    assert first["p_answer"] > second["p_answer"]
    assert first["p_segment"] > second["p_segment"] and first["segment_tries"] > 0
    assert first["expected_value"] == pytest.approx(first["p_answer"] * 0.9, abs=1e-3)
    assert len(first["best_hours"]) == 3 and first["waited_h"] >= 0
    assert 0 < first["exploration"] < 0.2  # the ordering bonus, shown beside P(answer)


def test_table_and_bad_input(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("report", "contacts", "--campaign", "c1", "--config", config) == 0
    table = capsys.readouterr().out
    assert EAGER in table and "P(answer)" in table
    assert run("report", "contacts", "--campaign", "nope", "--config", config) == 2
    assert "nope" in capsys.readouterr().err
    assert run("report", "contacts", "--campaign", "c1", "--limit", "0", "--config", config) == 2
