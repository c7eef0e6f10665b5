"""`dialguard simulate`: JSON keys, table output, and bad input exiting 2 with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialguard.cli import app
from dialguard.cli.simulate import JSON_KEYS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        app(["simulate", *args])
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_json_has_the_issue_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--scenario", "S3", "--seeds", "2", "--hours", "0.5", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(JSON_KEYS) <= set(data)
    assert data["scenario"] == "S3" and data["mode"] == "progressive" and data["seeds"] == 2
    assert data["abandoned_calls"] == 0 and 0 < data["talk_share"] < 1


def test_several_modes_give_one_object_keyed_by_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--scenario", "s3", "--mode", "progressive,vicidial-adapt",
        "--seeds", "1", "--hours", "0.3", "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"progressive", "vicidial-adapt"}
    assert set(JSON_KEYS) <= set(data["vicidial-adapt"])


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--scenario", "S3", "--seeds", "1", "--hours", "0.3")
    assert code == 0
    assert "talk share" in out and "progressive" in out and "ceiling" in out


def test_custom_workload_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "tiny.toml"
    f.write_text('base = "S3"\nname = "tiny"\nagents = 2\n')
    code, out, _ = run(capsys, "--scenario", str(f), "--seeds", "1", "--hours", "0.3", "--json")
    assert code == 0 and json.loads(out)["scenario"] == "tiny"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--scenario", "S9"], "--scenario 'S9'"),
        (["--scenario", "missing.toml"], "no such workload file"),
        (["--mode", "turbo"], "--mode 'turbo'"),
        (["--seeds", "0"], "--seeds 0"),
        (["--cap", "0.05"], "--cap 0.05"),
        (["--scenario", "S4", "--days", "6"], "--days 6: must be 1–5"),
        (["--scenario", "S3", "--days", "2"], "--days 2: only S4"),
    ],
)
def test_bad_input_exits_2_saying_what(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert needle in err and out == ""


def test_plot_writes_a_file_and_bad_suffix_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    png = tmp_path / "day.svg"
    code, _, _ = run(
        capsys, "--scenario", "S3", "--seeds", "1", "--hours", "0.3", "--plot", str(png)
    )
    assert code == 0 and png.read_text().lstrip().startswith("<?xml")
    code, _, err = run(
        capsys,
        "--scenario",
        "S3",
        "--seeds",
        "1",
        "--hours",
        "0.3",
        "--plot",
        str(tmp_path / "x.gif"),
    )
    assert code == 2 and ".png or .svg" in err


def test_json_reports_the_ring_timeout_and_vicidial_rings_as_long(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, "--scenario", "S3", "--mode", "progressive,vicidial-adapt", "--seeds", "1",
        "--hours", "0.3", "--ring-timeout", "18", "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["progressive"]["ring_timeout_s"] == 18.0
    assert data["vicidial-adapt"]["ring_timeout_s"] == 18.0
    assert data["progressive"]["attempts_per_contact"] > 1
    from dialguard.sim import S3
    from dialguard.sim.modes import make_pacer

    vici = make_pacer("vicidial-adapt", S3, ring_timeout_s=18.0)
    assert vici.ring_timeout_s == 18.0 and vici.hold_s == 1.0  # type: ignore[attr-defined]
    code, _, err = run(capsys, "--ring-timeout", "10")
    assert code == 2 and "--ring-timeout 10" in err


def test_s4_over_two_days_reports_both_days(capsys: pytest.CaptureFixture[str]) -> None:
    one = run(capsys, "--scenario", "S4", "--seeds", "1", "--hours", "1", "--json")
    two = run(capsys, "--scenario", "S4", "--seeds", "1", "--hours", "1", "--days", "2",
              "--json")  # fmt: skip
    assert one[0] == two[0] == 0
    a, b = json.loads(one[1]), json.loads(two[1])
    assert b["calls_to_other_channel"] == 0 and b["handoffs_repeated"] == 0
    assert b["handoffs"] > a["handoffs"]  # Tuesday's hour reached people Monday's did not
