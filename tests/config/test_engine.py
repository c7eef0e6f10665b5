"""The engine config refuses what the daemon would refuse or break on, naming the
source (the file or the environment variable) and never showing a secret (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialguard.config import ConfigError, load_engine_config
from dialguard.config.engine import template_problem, topic_prefix_problem
from dialguard.law import BUILT_IN_LISTS, ListTerms


def problems(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "dialguard.toml"
    path.write_text(toml)
    mp = pytest.MonkeyPatch()
    try:
        for k, v in (env or {}).items():
            mp.setenv(k, v)
        with pytest.raises(ConfigError) as e:
            load_engine_config(path)
        return e.value.problems
    finally:
        mp.undo()


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("[trunk]\nrtp_port_range = [30000, 20000]\n", "LOW ≤ HIGH"),
        ('[broker]\ntopic_prefix = "a/#"\n', "wildcards"),
        ('[broker]\ntopic_prefix = ""\n', "must not be empty"),
        ('[broker]\ntopic_prefix = "a/"\n', "'/'"),
        ('[broker]\nclient_id = "eng+1"\n', "topic level"),
        ('[broker]\nclient_id = "a/b"\n', "topic level"),
        ('[trunk]\nagent_uri_template = "sip:{agent}@{host}"\n', "unknown field(s) {host}"),
        ('[trunk]\nagent_uri_template = "sip:{agent}@{0}"\n', "unknown field(s) {0}"),
        ('[trunk]\nagent_uri_template = "sip:{agent}@x{"\n', "not a valid template"),
        ("[trunk]\nregistration = true\n", "needs trunk.username"),
    ],
)
def test_what_the_daemon_cannot_use_is_refused(tmp_path: Path, toml: str, says: str) -> None:
    [line] = problems(tmp_path, toml)
    assert "dialguard.toml: " in line and says in line, line


def test_credentials_in_the_broker_url_are_refused_and_never_shown(tmp_path: Path) -> None:
    [line] = problems(tmp_path, '[broker]\nurl = "mqtt://engine:s3cret-pw@host:1883"\n')
    assert "credentials in the URL" in line and "DIALGUARD_BROKER__PASSWORD" in line
    assert "s3cret-pw" not in line and "engine:***@host" in line


def test_a_bad_environment_value_is_blamed_on_the_variable(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "", {"DIALGUARD_BROKER__KEEPALIVE_S": "abc"})
    assert line.startswith("environment DIALGUARD_BROKER__KEEPALIVE_S: broker.keepalive_s")
    # a list field from the environment is JSON; unparseable is a config error, not a crash
    [line] = problems(tmp_path, "", {"DIALGUARD_TRUNK__RTP_PORT_RANGE": "abc"})
    assert line.startswith("environment DIALGUARD_TRUNK__RTP_PORT_RANGE: cannot be parsed")


def test_the_file_is_blamed_when_the_environment_is_fine(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "[broker]\nkeepalive_s = 1\n", {"DIALGUARD_TRUNK__PORT": "5060"})
    assert "/dialguard.toml: broker.keepalive_s = 1" in line


def test_a_bad_password_value_is_never_echoed(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "[trunk]\npassword = 99887766\n")
    assert "trunk.password = ***" in line and "99887766" not in line


def test_the_rules_alone() -> None:
    assert topic_prefix_problem("dialguard") is None
    assert topic_prefix_problem("site/a") is None
    assert topic_prefix_problem("$SYS") is not None
    assert topic_prefix_problem("a//b") is not None
    assert template_problem("sip:{agent}@pbx", frozenset({"agent"})) is None


def test_admission_defaults_are_the_pacing_cores_and_a_section_sets_them(tmp_path: Path) -> None:
    from dialguard.pacing.admission import AdmissionParams

    path = tmp_path / "dialguard.toml"
    path.write_text("")
    assert load_engine_config(path).admission.params() == AdmissionParams()
    path.write_text("[admission]\ninitial_window = 4\nmax_window = 64\nloop_lag_s = [0.02, 0.2]\n")
    p = load_engine_config(path).admission.params()
    assert (p.initial, p.ceiling, p.loop_lag.target, p.loop_lag.stop) == (4, 64, 0.02, 0.2)


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("loop_lag_s = [0.3, 0.05]", "loop_lag_s = […]: [target, stop] = [0.3, 0.05]: need 0 < t"),
        ("answer_to_refer_s = [0.1, 2.5]", "below the 2 s connect deadline"),
        ("write_queue = [0, 10]", "need 0 < target < stop"),
        ("initial_window = 300", "need min_window ≤ initial_window ≤ max_window"),
    ],
)
def test_admission_settings_the_engine_could_not_use_are_refused(
    tmp_path: Path, toml: str, says: str
) -> None:
    found = "\n".join(problems(tmp_path, f"[admission]\n{toml}\n"))
    assert says in found, found


def test_an_admission_override_from_the_environment(tmp_path: Path) -> None:
    found = "\n".join(problems(tmp_path, "", env={"DIALGUARD_ADMISSION__MIN_WINDOW": "999"}))
    assert "need min_window ≤ initial_window ≤ max_window, got 999, 16, 256" in found, found


_DECLARED = '[[dnc_list]]\nsource = "robinson_de"\nregion = "DE"\nmax_age_days = 30\n'


@pytest.mark.parametrize(
    ("toml", "field", "says"),
    [
        (_DECLARED.replace('"robinson_de"', '"tps"'), "dnc_list.0.source = tps",
         "built-in list"),
        (_DECLARED.replace('"robinson_de"', '"internal"'), "dnc_list.0.source", "built-in"),
        (_DECLARED.replace('"robinson_de"', '"Robinson-DE"'), "dnc_list.0.source",
         "should match pattern"),
        (_DECLARED.replace('"DE"', '"XX"'), "dnc_list.0.region = XX", "unknown region"),
        (_DECLARED.replace("= 30", "= 0"), "dnc_list.0.max_age_days = 0", "greater than 0"),
        (_DECLARED.replace("= 30", "= -3"), "dnc_list.0.max_age_days", "greater than 0"),
        (_DECLARED + _DECLARED.replace('"DE"', '"AT"'), "dnc_list",
         "dnc_list[1].source 'robinson_de': already declared by dnc_list[0]"),
    ],
)  # fmt: skip
def test_a_declared_national_list_is_refused_naming_its_field(
    tmp_path: Path, toml: str, field: str, says: str
) -> None:
    [line] = problems(tmp_path, toml)
    assert f"dialguard.toml: {field}" in line and says in line, line


def test_a_declared_national_list_joins_the_built_in_ones(tmp_path: Path) -> None:
    path = tmp_path / "dialguard.toml"
    path.write_text(_DECLARED.replace("= 30\n", '= 30\nlabel = "Robinsonliste (DE)"\n'))
    lists = load_engine_config(path).national_lists()
    assert lists["robinson_de"] == ListTerms("DE", 30, "Robinsonliste (DE)")
    assert {k: v for k, v in lists.items() if k != "robinson_de"} == BUILT_IN_LISTS
