"""Who owns a campaign's settings (engine.ownership, docs/supervisor.md): a supervisor's
live change survives a restart and a SIGHUP; a campaign file edited since is the newer
change and wins, reported in the log and the audit; setting a field back to the file's
value hands it back to the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialguard.config import CampaignConfig, EngineConfig, PacingConfig, parse_campaign
from dialguard.config.engine import MetricsConfig, StoreConfig
from dialguard.engine.engine import Engine
from dialguard.engine.ownership import after_live_change, resolve
from dialguard.mqtt.contract import PacingChangeRequest
from dialguard.store import PacingOverride, Store
from tests.support.scripted import ScriptedTrunk

T0 = 1_800_000_000.0


def _override(field: str, value: Any, file_value: Any) -> PacingOverride:
    return PacingOverride(field, value, file_value, "alice", T0)


def test_an_override_the_file_has_not_changed_stays_in_force() -> None:
    file = PacingConfig(abandon_cap=0.03)
    res = resolve(file, {"abandon_cap": _override("abandon_cap", 0.02, 0.03)})
    assert res.pacing.abandon_cap == 0.02
    assert [s.outcome for s in res.settlements] == ["kept"]
    assert res.settlements[0].winner == "supervisor"
    assert "0.02 set live by alice" in res.settlements[0].sentence()
    assert set(res.overrides) == {"abandon_cap"}


def test_a_file_edited_since_wins_and_says_so() -> None:
    file = PacingConfig(abandon_cap=0.025)
    res = resolve(file, {"abandon_cap": _override("abandon_cap", 0.02, 0.03)})
    assert res.pacing.abandon_cap == 0.025
    (s,) = res.settlements
    assert (s.outcome, s.winner) == ("conflict", "file")
    assert "changed from 0.03 to 0.025 after alice" in s.sentence()
    assert res.overrides == {}


def test_a_file_that_now_agrees_takes_the_field_back() -> None:
    res = resolve(
        PacingConfig(abandon_cap=0.02), {"abandon_cap": _override("abandon_cap", 0.02, 0.03)}
    )
    assert [s.outcome for s in res.settlements] == ["agreed"]
    assert res.overrides == {} and res.pacing.abandon_cap == 0.02


def test_an_override_the_campaign_can_no_longer_run_is_dropped_as_a_conflict() -> None:
    def no_predictive(p: PacingConfig) -> None:
        if p.mode == "predictive":
            raise ValueError("no message")

    res = resolve(
        PacingConfig(), {"mode": _override("mode", "predictive", "progressive")}, no_predictive
    )
    assert res.pacing.mode == "progressive"
    assert [s.outcome for s in res.settlements] == ["conflict"]
    gone = resolve(PacingConfig(), {"no_such": _override("no_such", 1, 2)})
    assert [s.outcome for s in gone.settlements] == ["conflict"]


def test_setting_a_field_back_to_the_files_value_hands_it_back() -> None:
    file = PacingConfig(abandon_cap=0.03, ring_timeout_s=20)
    one = after_live_change({}, file, {"abandon_cap": 0.02, "ring_timeout_s": 25}, "alice", T0)
    assert {f: o.value for f, o in one.items()} == {"abandon_cap": 0.02, "ring_timeout_s": 25}
    assert one["abandon_cap"].file_value == 0.03
    two = after_live_change(one, file, {"abandon_cap": 0.03}, "bob", T0 + 60)
    assert set(two) == {"ring_timeout_s"}


# --- the engine: change, restart, edit the file, restart ----------------------------------


def _campaign(**pacing: Any) -> CampaignConfig:
    return parse_campaign(
        {
            "id": "spring",
            "name": "Spring",
            "caller_id": "+442079460000",
            "calling_window": {"regime": "none"},
            "pacing": {"ring_timeout_s": 20, "abandon_cap": 0.03, **pacing},
        }
    )


async def _engine(path: Path, campaign: CampaignConfig) -> Engine:
    cfg = EngineConfig(store=StoreConfig(path=path), metrics=MetricsConfig(enabled=False))
    engine = Engine(cfg, [campaign], ScriptedTrunk(0.05))
    engine.store = await Store.open(path)
    await engine._register_campaigns()
    return engine


async def test_a_supervisors_change_survives_a_restart_and_a_file_edit_is_reported(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.sqlite3"
    first = await _engine(path, _campaign())
    reply = await first._on_pacing(
        "spring",
        PacingChangeRequest(
            request_id="r1", actor="alice", changes={"ring_timeout_s": 25, "abandon_cap": 0.02}
        ),
    )
    assert reply.accepted, reply.reason
    assert first.store is not None
    await first.store.close()

    # Restart, same file: the supervisor's values are still in force, and the audit says so.
    second = await _engine(path, _campaign())
    pacing = second.runners["spring"].campaign.pacing
    assert (pacing.ring_timeout_s, pacing.abandon_cap) == (25, 0.02)
    assert second.store is not None
    audit = await second.store.audit.events("spring")
    kept = [a for a in audit if a.action == "settings.kept"]
    assert {next(iter(a.new)) for a in kept} == {"abandon_cap", "ring_timeout_s"}
    assert all(a.detail and a.detail.startswith("supervisor wins") for a in kept)
    # no silent "system campaign.updated … 0.02 → 0.03" any more
    assert [a for a in audit if a.action == "campaign.updated" and a.actor != "alice"] == []
    stored = parse_campaign((await second.store.campaigns.get("spring")).config)  # type: ignore[union-attr]
    assert stored.pacing.abandon_cap == 0.02
    await second.store.close()

    # The file is edited to a cap of 2.5 %: that edit is newer, it wins, and it is reported.
    third = await _engine(path, _campaign(abandon_cap=0.025))
    pacing = third.runners["spring"].campaign.pacing
    assert (pacing.ring_timeout_s, pacing.abandon_cap) == (25, 0.025)
    assert third.store is not None
    audit = await third.store.audit.events("spring")
    (conflict,) = [a for a in audit if a.action == "settings.conflict"]
    assert conflict.actor == "file" and conflict.new == {"abandon_cap": 0.025}
    assert conflict.detail is not None and "file wins" in conflict.detail
    assert "changed from 0.03 to 0.025 after alice" in conflict.detail
    assert set(await third.store.campaigns.pacing_overrides("spring")) == {"ring_timeout_s"}
    await third.store.close()


async def test_a_sighup_keeps_a_supervisors_change_too(tmp_path: Path) -> None:
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "spring.toml").write_text(
        'id = "spring"\nname = "Spring"\ncaller_id = "+442079460000"\n'
        '[calling_window]\nregime = "none"\n[pacing]\nring_timeout_s = 20\nabandon_cap = 0.03\n'
    )
    path = tmp_path / "store.sqlite3"
    engine = await _engine(path, _campaign())
    engine.cfg.engine.campaigns_dir = campaigns
    await engine._on_pacing(
        "spring", PacingChangeRequest(request_id="r1", actor="alice", changes={"abandon_cap": 0.02})
    )
    (campaigns / "spring.toml").write_text(
        (campaigns / "spring.toml")
        .read_text()
        .replace("ring_timeout_s = 20", "ring_timeout_s = 30")
    )
    await engine.reload_campaigns()
    pacing = engine.runners["spring"].campaign.pacing
    assert (pacing.ring_timeout_s, pacing.abandon_cap) == (30, 0.02)
    assert engine.store is not None
    await engine.store.close()
