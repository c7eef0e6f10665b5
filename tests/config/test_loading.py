"""Config validation: every broken rule is reported with its file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialguard.config import (
    ConfigError,
    load_campaign,
    load_campaigns,
    load_engine_config,
    parse_campaign,
)

REPO = Path(__file__).resolve().parents[2]
BASE = {"id": "spring", "name": "Spring", "caller_id": "+442079460000"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    d = tmp_path / "campaigns"
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text(text)
    return p


def test_shipped_example_configs_are_valid() -> None:
    cfg = load_engine_config(REPO / "config" / "dialguard.toml")
    camps = load_campaigns(cfg.engine.campaigns_dir)
    assert [c.id for c in camps] == ["spring"]
    assert camps[0].pacing.mode == "progressive"


def test_ring_timeout_below_15_s_names_file_field_and_rule(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "spring.toml",
        'id="spring"\nname="S"\ncaller_id="+442079460000"\n[pacing]\nring_timeout_s=10\n',
    )
    with pytest.raises(ConfigError) as e:
        load_campaign(p)
    assert e.value.problems == [
        "campaigns/spring.toml: pacing.ring_timeout_s = 10: must be ≥ 15 s (minimum ring time)"
    ]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"pacing": {"abandon_cap": 0.05}}, "pacing.abandon_cap = 0.05: must be > 0 and ≤ 0.03"),
        ({"pacing": {"max_dial_ratio": 4}}, "pacing.max_dial_ratio = 4: must be between 1 and 3"),
        ({"pacing": {"abandon_window": "7d"}}, "pacing.abandon_window = 7d: Input should be"),
        ({"pacing": {"mode": "turbo"}}, "pacing.mode = turbo: Input should be"),
        ({"caller_id": "02079460000"}, "caller_id = 02079460000: must be E.164 with a leading +"),
        ({"caller_id": "+449098790000"}, "premium-rate numbers may not be used as caller ID"),
        ({"caller_id": "+441632960000"}, "not a valid number for its country"),
        ({"id": "Spring Sale"}, "id = 'Spring Sale': String should match pattern"),
        (
            {"calling_window": {"regime": "custom"}},
            "calling_window = {…}: regime 'custom' needs at least one",
        ),
        (
            {"calling_window": {"regime": "custom", "custom": [{"start": "21:00", "end": "08"}]}},
            "calling_window.custom.0.end = 08: must be a time HH:MM",
        ),
        (
            {"retry": {"abandoned": {"delay_s": 3600, "max_attempts": 1}}},
            "retry.abandoned = {…}: delay_s must be ≥ 259200 (72 h lock-out",
        ),
        ({"pacing": {"ringtimeout": 20}}, "pacing.ringtimeout: unknown field"),
        ({"pacing": {"mode": "predictive"}}, "predictive needs information_message"),
    ],
)
def test_each_rule_is_reported(patch: dict[str, object], expected: str) -> None:
    data = {**BASE, **patch}
    with pytest.raises(ConfigError) as e:
        parse_campaign(data, "campaigns/x.toml")
    assert len(e.value.problems) == 1, e.value.problems
    assert e.value.problems[0].startswith("campaigns/x.toml: "), e.value.problems
    assert expected in e.value.problems[0]


def test_missing_fields_are_each_listed() -> None:
    with pytest.raises(ConfigError) as e:
        parse_campaign({"id": "x"}, "campaigns/x.toml")
    assert sorted(e.value.problems) == [
        "campaigns/x.toml: caller_id: required field is missing",
        "campaigns/x.toml: name: required field is missing",
    ]


def test_caller_id_is_normalised_to_e164() -> None:
    c = parse_campaign({**BASE, "caller_id": "+44 20 7946 0000"})
    assert c.caller_id == "+442079460000"


def test_bad_toml_syntax_is_reported_with_file(tmp_path: Path) -> None:
    p = write(tmp_path, "broken.toml", "id = \n")
    with pytest.raises(ConfigError) as e:
        load_campaign(p)
    assert e.value.problems[0].startswith("campaigns/broken.toml: not valid TOML")


def test_all_bad_files_reported_and_duplicate_ids_refused(tmp_path: Path) -> None:
    good = 'id="a"\nname="A"\ncaller_id="+442079460000"\n'
    write(tmp_path, "a.toml", good)
    write(tmp_path, "b.toml", good)
    write(tmp_path, "c.toml", 'id="c"\nname="C"\ncaller_id="+1"\n')
    with pytest.raises(ConfigError) as e:
        load_campaigns(tmp_path / "campaigns")
    text = str(e.value)
    assert "campaigns/b.toml: id = a: already used by campaigns/a.toml" in text
    assert "campaigns/c.toml: caller_id = +1" in text


def test_engine_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "dialguard.toml"
    p.write_text('[broker]\nurl = "mqtt://127.0.0.1:1883"\n[store]\npath = "db.sqlite3"\n')
    monkeypatch.setenv("DIALGUARD_BROKER__URL", "mqtt://127.0.0.1:2883")
    monkeypatch.setenv("DIALGUARD_BROKER__PASSWORD", "hunter2")
    cfg = load_engine_config(p)
    assert cfg.broker.port == 2883
    assert cfg.broker.password is not None
    assert cfg.broker.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(cfg)
    assert cfg.store.path == tmp_path / "db.sqlite3"


def test_engine_config_errors(tmp_path: Path) -> None:
    p = tmp_path / "dialguard.toml"
    p.write_text('[broker]\nurl = "http://x"\n[trunk]\nport = 70000\nagent_uri_template = "x"\n')
    with pytest.raises(ConfigError) as e:
        load_engine_config(p)
    problems = "\n".join(e.value.problems)
    assert "dialguard.toml: broker.url = http://x: must look like mqtt://HOST:PORT" in problems
    assert "trunk.port = 70000" in problems
    assert "trunk.agent_uri_template = x: must be a sip: URI containing {agent}" in problems


def test_missing_engine_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_engine_config(tmp_path / "nope.toml")


def test_dial_ahead_needs_a_wrap_up_cap_and_the_error_names_both_fields() -> None:
    from pydantic import ValidationError

    from dialguard.config.campaign import PacingConfig
    from dialguard.config.pacing_map import pacing_params

    assert PacingConfig().wrap_up_cap_s is None  # no cap unless the campaign sets one
    with pytest.raises(ValidationError, match=r"dial_ahead_wrap.*wrap_up_cap_s"):
        PacingConfig(dial_ahead_wrap=True)
    for bad in (0.0, 601.0):
        with pytest.raises(ValidationError, match="wrap_up_cap_s"):
            PacingConfig(wrap_up_cap_s=bad)
    ok = PacingConfig(dial_ahead_wrap=True, wrap_up_cap_s=20.0)
    params = pacing_params(ok)
    assert params.wrap_up_cap_s == 20.0 and params.dial_ahead_wrap and not params.problems()
    assert pacing_params(PacingConfig()).wrap_up_cap_s is None
