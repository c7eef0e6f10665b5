"""`dialguard config check`: every problem in every file in one run, one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GOOD = 'id = "ok"\nname = "OK"\ncaller_id = "+442079460000"\n'


def check(config: Path) -> subprocess.CompletedProcess[str]:
    # a pipe, not a terminal: the messages must not be wrapped at 80 columns
    return subprocess.run(
        [sys.executable, "-m", "dialguard", "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_problems_in_the_engine_file_and_in_campaigns_are_all_reported(tmp_path: Path) -> None:
    campaigns = tmp_path / "camps"
    campaigns.mkdir()
    (campaigns / "a.toml").write_text(
        GOOD.replace('"ok"', '"a"') + "[pacing]\nring_timeout_s = 10\n"
    )
    (campaigns / "b.toml").write_text(GOOD.replace('"ok"', '"b"') + "[pacing]\nabandon_cap = 0.5\n")
    config = tmp_path / "dialguard.toml"
    config.write_text('[engine]\ncampaigns_dir = "camps"\n[broker]\nport = 99999\n')
    out = check(config)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith("config error:")]
    assert len(lines) == 3, out.stderr
    assert any("broker.port" in line for line in lines)
    assert any("a.toml: pacing.ring_timeout_s = 10: must be ≥ 15 s" in line for line in lines)
    assert any("b.toml: pacing.abandon_cap" in line for line in lines)
    assert "3 problems found" in out.stderr


def test_a_good_set_is_ok(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "ok.toml").write_text(GOOD)
    config = tmp_path / "dialguard.toml"
    config.write_text("")
    out = check(config)
    assert out.returncode == 0, out.stderr
    assert "config ok" in out.stdout and "1 campaign(s)" in out.stdout


def test_a_valid_campaign_that_would_dial_nothing_is_warned_about(tmp_path: Path) -> None:
    """issue 12 item 2: the example campaign needs a TPS list nobody imported; `config
    check` said "ok" and nothing else. It still exits 0, but says why it would not dial."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "ok.toml").write_text(GOOD + '[dnc]\nlists = ["tps"]\n')
    config = tmp_path / "dialguard.toml"
    config.write_text('[store]\npath = "s.sqlite3"\n')
    out = check(config)
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert any("ok would dial nothing: the TPS list was never imported" in w for w in warnings)
    assert any("no contacts imported" in w for w in warnings)
    assert not (tmp_path / "s.sqlite3").exists()  # checking creates no store


def test_config_check_says_what_the_regime_imposes(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "fr.toml").write_text(
        GOOD.replace('"ok"', '"fr"')
        + '[calling_window]\nregime = "france"\n[dnc]\nlists = ["usdnc"]\n'
    )
    config = tmp_path / "dialguard.toml"
    config.write_text("")
    out = check(config)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "calling hours (France, callee's local time): mon–fri 10:00–13:00, 14:00–20:00" in text
    assert (
        "no calls on public holidays of FR and the callee's overseas département, plus no "
        "campaign dates" in text
    )
    assert "4 per 30 calendar days (france)" in text
    assert "usdnc (US numbers, less than 31 days old)" in text
    assert (
        "regime 'france': its country's list, bloctel (FR numbers), is not screened: add "
        '"bloctel" to [dnc] lists' in text
    )
    assert "rolling 24 h" in text


def test_config_check_names_each_regimes_national_list_with_its_country_and_age(
    tmp_path: Path,
) -> None:
    (tmp_path / "campaigns").mkdir()
    for regime, listed_on in (("france", "bloctel"), ("australia", "dncr")):
        (tmp_path / "campaigns" / f"{regime}.toml").write_text(
            GOOD.replace('"ok"', f'"{regime}"')
            + f'[calling_window]\nregime = "{regime}"\n[dnc]\nlists = ["{listed_on}"]\n'
        )
    config = tmp_path / "dialguard.toml"
    config.write_text("")
    out = check(config)
    assert out.returncode == 0, out.stderr
    assert "do-not-call: internal list, bloctel (FR numbers, less than 30 days old)" in out.stdout
    assert "do-not-call: internal list, dncr (AU numbers, less than 30 days old)" in out.stdout
    assert "is not screened" not in out.stdout


def test_what_the_daemon_checks_at_start_is_checked_too(tmp_path: Path) -> None:
    """A missing information message and a bad roster stop `dialguard run`; the check
    reports them rather than saying ok (issue 11, one validator)."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "ok.toml").write_text(GOOD + 'information_message = "missing.wav"\n')
    (tmp_path / "agents.toml").write_text('[[agent]]\nid = "a/1"\n[[agent]]\nid = "b"\nx = 1\n')
    config = tmp_path / "dialguard.toml"
    config.write_text('[engine]\nagents_file = "agents.toml"\n')
    out = check(config)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith("config error:")]
    assert any("agents.toml: agent[0].id = a/1" in line for line in lines), out.stderr
    assert any("agents.toml: agent[1].x: unknown field" in line for line in lines), out.stderr
    assert any("campaign ok: information_message" in line for line in lines), out.stderr


def test_no_roster_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    config = tmp_path / "dialguard.toml"
    config.write_text("")
    out = check(config)
    assert out.returncode == 0, out.stderr
    assert "config warning:" in out.stderr and "no agent roster" in out.stderr
    assert "0 agent(s) on the roster" in out.stdout


def test_an_environment_error_names_the_variable_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "dialguard.toml"
    config.write_text("")
    env = {**os.environ, "DIALGUARD_TRUNK__RTP_PORT_RANGE": "not-json"}
    out = subprocess.run(
        [sys.executable, "-m", "dialguard", "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "environment DIALGUARD_TRUNK__RTP_PORT_RANGE" in out.stderr


def test_a_long_error_stays_on_one_line_when_piped(tmp_path: Path) -> None:
    """issue 12 item 6: piped into grep or a log, messages were wrapped at 80 columns in
    mid-sentence. Even with COLUMNS=80 each problem is one whole line."""
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    name = "a-campaign-file-with-a-long-name-as-people-write-them"
    (campaigns / f"{name}.toml").write_text(GOOD + "[pacing]\nring_timeout_s = 10\n")
    config = tmp_path / "dialguard.toml"
    config.write_text("")
    out = subprocess.run(
        [sys.executable, "-m", "dialguard", "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert out.returncode == 2
    (line,) = [line for line in out.stderr.splitlines() if "ring_timeout_s" in line]
    assert len(line) > 80
    assert line.startswith("config error: ") and f"{name}.toml" in line
    assert line.endswith("must be ≥ 15 s (minimum ring time)"), out.stderr


def test_config_check_takes_a_declared_list_and_names_one_nobody_declared(
    tmp_path: Path,
) -> None:
    """A campaign may screen a list the engine config declares ([[dnc_list]]); config
    check shows its terms; a list no config declares is an error naming the campaign
    and the field, and so is a bad declaration."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "de.toml").write_text(
        GOOD.replace('"ok"', '"de"') + '[dnc]\nlists = ["robinson_de"]\n'
    )
    config = tmp_path / "dialguard.toml"
    config.write_text('[[dnc_list]]\nsource = "robinson_de"\nregion = "DE"\nmax_age_days = 30\n')
    out = check(config)
    assert out.returncode == 0, out.stderr
    assert "robinson_de (DE numbers, less than 30 days old)" in out.stdout
    config.write_text("")
    out = check(config)
    assert out.returncode != 0
    assert "campaign de: dnc.lists: 'robinson_de' is neither a built-in list" in out.stderr
    config.write_text('[[dnc_list]]\nsource = "tps"\nregion = "GB"\nmax_age_days = 28\n')
    out = check(config)
    assert out.returncode != 0 and "dnc_list.0.source = tps" in out.stderr, out.stderr
