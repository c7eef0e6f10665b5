"""`dialguard import contacts|dnc` run in-process through the real CLI app."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from dialguard.cli import app
from dialguard.store import Store

CAMPAIGN = """
id = "spring"
name = "Spring renewals"
caller_id = "+442079460000"
"""


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    """The CLI configures structlog for the process; give other tests theirs back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A config dir with a store path, a campaigns dir holding 'spring', and a CSV."""
    cfg = tmp_path / "config"
    (cfg / "campaigns").mkdir(parents=True)
    (cfg / "campaigns" / "spring.toml").write_text(CAMPAIGN)
    (cfg / "dialguard.toml").write_text(
        '[store]\npath = "../var/store.sqlite3"\n[engine]\ndefault_region = "GB"\n'
    )
    (tmp_path / "leads.csv").write_bytes(
        b"name,phone,priority\nAnn,020 7946 0000,1\nBob,12,0\n\nCy,+1 212 555 0134,2\n"
    )
    return tmp_path


def run(*args: str) -> int:
    result = app(list(args), result_action="return_value")
    assert isinstance(result, int)
    return result


def stored(base: Path) -> tuple[list[str], list[str]]:
    async def read() -> tuple[list[str], list[str]]:
        async with await Store.open(base / "var" / "store.sqlite3") as store:
            campaigns = [c.id for c in await store.campaigns.all()]
            numbers = [c.number for c in await store.contacts.due("spring", 1e12, 100)]
            return campaigns, numbers

    return asyncio.run(read())


def test_contacts_happy_path_then_idempotent(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(setup / "config" / "dialguard.toml")
    rejects = setup / "rejects.csv"
    code = run(
        "import", "contacts", str(setup / "leads.csv"), "--campaign", "spring",
        "--config", config, "--rejects", str(rejects),
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1  # the import ran, and one row was rejected
    assert "campaign spring added to the store" in out
    assert "contacts imported  2" in out
    assert "bad number: too short" in out
    with rejects.open(newline="") as f:
        assert list(csv.reader(f)) == [
            ["line", "reason", "raw"],
            ["3", "bad number: too short", "Bob,12,0"],
        ]
    assert stored(setup) == (["spring"], ["+12125550134", "+442079460000"])

    code = run(
        "import", "contacts", str(setup / "leads.csv"), "--campaign", "spring", "--config", config
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "contacts imported  0" in out
    assert "already present    2" in out
    assert "added to the store" not in out


def test_contacts_all_good_exits_zero_and_empties_the_rejects_file(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup / "good.csv").write_text("number\n+442079460000\n")
    rejects = setup / "rejects.csv"
    rejects.write_text("line,reason,raw\n3,stale from an earlier run,x\n")
    config = str(setup / "config" / "dialguard.toml")
    assert run("import", "contacts", str(setup / "good.csv"), "--campaign", "spring",
               "--config", config, "--rejects", str(rejects)) == 0  # fmt: skip
    assert "rejected rows" not in capsys.readouterr().out
    assert rejects.read_bytes() == b"line,reason,raw\r\n"


def test_many_rejects_show_twenty_and_point_to_rejects(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup / "bad.csv").write_text("number\n" + "12\n" * 25)
    config = str(setup / "config" / "dialguard.toml")
    run("import", "contacts", str(setup / "bad.csv"), "--campaign", "spring", "--config", config)
    out = capsys.readouterr().out
    assert "…and 5 more; see --rejects FILE.csv" in out
    assert "│   21 │" in out and "│   22 │" not in out


def test_unknown_campaign_is_refused_listing_known_ones(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(setup / "config" / "dialguard.toml")
    code = run(
        "import", "contacts", str(setup / "leads.csv"), "--campaign", "autumn", "--config", config
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "campaign 'autumn' is not in the store nor defined in" in err
    assert "(known: spring)" in err
    assert stored(setup) == ([], [])


def test_missing_file_is_refused_before_the_store_is_created(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(setup / "config" / "dialguard.toml")
    code = run("import", "contacts", str(setup / "nope.csv"), "--campaign", "spring",
               "--config", config)  # fmt: skip
    assert code == 2
    assert f"{setup / 'nope.csv'}: file not found" in capsys.readouterr().err
    assert not (setup / "var").exists()


def test_wrong_number_column_imports_nothing(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup / "cols.csv").write_text("name,tel\nAnn,020 7946 0000\n")
    config = str(setup / "config" / "dialguard.toml")
    code = run("import", "contacts", str(setup / "cols.csv"), "--campaign", "spring",
               "--config", config)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "no number column: found 'name', 'tel'" in err
    assert "nothing was imported" in err
    assert stored(setup)[1] == []


def test_bad_region_is_refused(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(setup / "config" / "dialguard.toml")
    code = run("import", "contacts", str(setup / "leads.csv"), "--campaign", "spring",
               "--config", config, "--region", "XX")  # fmt: skip
    assert code == 2
    assert "--region: unknown region 'XX'" in capsys.readouterr().err


def test_dnc_happy_path_records_list_date(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (setup / "tps.csv").write_text("020 7946 0000\n07700 900123\n")
    config = str(setup / "config" / "dialguard.toml")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    code = run("import", "dnc", str(setup / "tps.csv"), "--source", "tps",
               "--list-date", today, "--config", config)  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "tps numbers imported  2" in out
    assert "read as GB (the tps list holds GB numbers)" in out

    async def check() -> None:
        async with await Store.open(setup / "var" / "store.sqlite3") as store:
            assert (await store.dnc.list_dates())["tps"].list_date == today
            assert [h.source for h in await store.dnc.lookup("+447700900123")] == ["tps"]

    asyncio.run(check())


def test_a_us_registry_file_under_the_shipped_gb_default_is_read_as_us_numbers(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17 item 1, as reported: with engine.default_region = "GB", `import dnc
    --source usdnc` stored 212-736-3100 as +442127363100 and rejected 18085868250 as
    too long, silently. The list is read as US numbers and the output says so."""
    (setup / "usdnc.csv").write_text("212-736-3100\n18085868250\n")
    config = str(setup / "config" / "dialguard.toml")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    code = run("import", "dnc", str(setup / "usdnc.csv"), "--source", "usdnc",
               "--list-date", today, "--config", config)  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "usdnc numbers imported  2" in out
    assert "numbers without +country read as US (the usdnc list holds US numbers)" in out

    async def check() -> None:
        async with await Store.open(setup / "var" / "store.sqlite3") as store:
            for number in ("+12127363100", "+18085868250"):
                assert [h.source for h in await store.dnc.lookup(number)] == ["usdnc"]
            assert await store.dnc.lookup("+442127363100") == []

    asyncio.run(check())


@pytest.mark.parametrize(
    ("source", "lines", "stored", "region"),
    [
        ("BLOCTEL", "01 42 68 53 00\n+33 (0)6 12 34 56 78\n+44 20 7946 0000\n",
         ("+33142685300", "+33612345678"), "FR"),
        ("dncr", "(02) 9374 4000\n0412 345 678\n+44 20 7946 0000\n",
         ("+61293744000", "+61412345678"), "AU"),
    ],
)  # fmt: skip
def test_bloctel_and_dncr_files_under_the_shipped_gb_default_are_read_in_their_country(
    setup: Path, capsys: pytest.CaptureFixture[str], source: str, lines: str,
    stored: tuple[str, str], region: str,
) -> None:  # fmt: skip
    (setup / "list.csv").write_text(lines)
    config = str(setup / "config" / "dialguard.toml")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    code = run("import", "dnc", str(setup / "list.csv"), "--source", source,
               "--list-date", today, "--config", config)  # fmt: skip
    kind = source.lower()
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert f"{kind} numbers imported  2" in out
    assert f"numbers without +country read as {region} (the {kind} list holds {region}" in out
    assert f"not a {region} number (+442079460000)" in out
    assert code == 1  # the import ran, and the UK number on line 3 was rejected

    async def check() -> None:
        async with await Store.open(setup / "var" / "store.sqlite3") as store:
            for number in stored:
                assert [h.source for h in await store.dnc.lookup(number)] == [kind]
            assert (await store.dnc.list_dates())[kind].list_date == today

    asyncio.run(check())


def test_a_region_contradicting_the_lists_country_is_refused(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup / "usdnc.csv").write_text("212-736-3100\n")
    config = str(setup / "config" / "dialguard.toml")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    code = run("import", "dnc", str(setup / "usdnc.csv"), "--source", "usdnc",
               "--list-date", today, "--region", "GB", "--config", config)  # fmt: skip
    assert code == 2
    assert "--region GB: the usdnc list holds US numbers" in capsys.readouterr().err
    assert not (setup / "var").exists()
    # the list's own country is no contradiction
    code = run("import", "dnc", str(setup / "usdnc.csv"), "--source", "usdnc",
               "--list-date", today, "--region", "US", "--config", config)  # fmt: skip
    assert code == 0


def test_contacts_import_says_how_many_are_on_dnc_lists(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(setup / "config" / "dialguard.toml")
    (setup / "tps.csv").write_text("020 7946 0000\n")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    run("import", "dnc", str(setup / "tps.csv"), "--source", "tps", "--list-date", today,
        "--config", config)  # fmt: skip
    run("import", "contacts", str(setup / "leads.csv"), "--campaign", "spring", "--config", config)
    out = capsys.readouterr().out
    assert (
        "contacts of spring on do-not-call lists: tps 1 (kept; never dialled while listed)" in out
    )


def test_old_list_is_imported_with_a_warning(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup / "tps.csv").write_text("020 7946 0000\n")
    config = str(setup / "config" / "dialguard.toml")
    old = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=40)).isoformat()
    code = run("import", "dnc", str(setup / "tps.csv"), "--source", "tps",
               "--list-date", old, "--config", config)  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "this tps list is 40 days old" in err
    assert "less than 28 days old" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "fps", "--list-date", "2026-01-01"],
         "--source 'fps': must be one of internal, tps, ctps, usdnc"),
        (["--source", "tps"], "--list-date is required for a tps list (YYYY-MM-DD)"),
        (["--source", "tps", "--list-date", "2026-02-30"],
         "--list-date: list date '2026-02-30' is not a real calendar date"),
        (["--source", "tps", "--list-date", "30/01/2026"],
         "--list-date: list date '30/01/2026' must be written YYYY-MM-DD"),
        (["--source", "usdnc", "--list-date", "2999-01-01"],
         "--list-date 2999-01-01 is in the future"),
    ],
)  # fmt: skip
def test_dnc_bad_options_are_refused(
    setup: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (setup / "tps.csv").write_text("020 7946 0000\n")
    config = str(setup / "config" / "dialguard.toml")
    code = run("import", "dnc", str(setup / "tps.csv"), *args, "--config", config)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (setup / "var").exists()


def test_file_content_is_printed_literally_not_as_markup(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(setup / "config" / "dialguard.toml")
    (setup / "rows.csv").write_text("number,note\n[/oops],[bold]x\n")
    code = run("import", "contacts", str(setup / "rows.csv"), "--campaign", "spring",
               "--config", config)  # fmt: skip
    assert code == 1
    assert "[/oops],[bold]x" in capsys.readouterr().out
    (setup / "cols.csv").write_text("[red]name,[/x]\n1,2\n")
    code = run("import", "contacts", str(setup / "cols.csv"), "--campaign", "spring",
               "--config", config)  # fmt: skip
    assert code == 2
    assert "found '[red]name', '[/x]'" in capsys.readouterr().err


def test_a_windows_export_is_read_in_its_encoding_and_says_so(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup / "win.csv").write_bytes("name,phone\nJosé,020 7946 0000\n".encode("cp1252"))
    config = str(setup / "config" / "dialguard.toml")
    code = run("import", "contacts", str(setup / "win.csv"), "--campaign", "spring",
               "--config", config)  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "read as windows-1252 (detected)" in out
    code = run("import", "contacts", str(setup / "win.csv"), "--campaign", "spring",
               "--config", config, "--encoding", "klingon")  # fmt: skip
    assert code == 2
    assert "--encoding klingon: not an encoding Python knows" in capsys.readouterr().err


def test_the_dnc_source_may_be_written_in_capitals(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup / "tps.csv").write_text("020 7946 0000\n")
    config = str(setup / "config" / "dialguard.toml")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    code = run("import", "dnc", str(setup / "tps.csv"), "--source", "TPS",
               "--list-date", today, "--config", config)  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "tps numbers imported  1" in capsys.readouterr().out


def test_on_a_terminal_log_lines_go_above_the_progress_bar_not_through_it(
    setup: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 12 item 6: on a terminal the bar and the import's log line ran together.
    The log line now goes through the bar's own console (rich prints it above the bar,
    whole), and nothing is written past the bar on stderr."""
    import io

    from rich.console import Console

    from dialguard.cli import imports

    screen = io.StringIO()
    monkeypatch.setattr(imports, "console", Console(file=screen, force_terminal=True, width=100))
    config = str(setup / "config" / "dialguard.toml")
    code = run(
        "import", "contacts", str(setup / "leads.csv"), "--campaign", "spring", "--config", config
    )  # fmt: skip
    assert code == 1
    shown = screen.getvalue()
    assert "contacts_imported" in shown  # printed by the bar's console
    line = next(ln for ln in shown.splitlines() if "contacts_imported" in ln)
    assert "importing" not in line  # not glued to the bar
    assert "contacts_imported" not in capsys.readouterr().err


def test_a_declared_list_under_the_shipped_gb_default_is_read_in_its_own_region(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A [[dnc_list]] the engine config declares (robinson_de, DE): its file is read as
    German numbers although engine.default_region is GB, a number of another country is
    rejected with its line and reason, and the output names the region used."""
    config = setup / "config" / "dialguard.toml"
    config.write_text(
        config.read_text()
        + '[[dnc_list]]\nsource = "robinson_de"\nregion = "DE"\nmax_age_days = 30\n'
    )
    (setup / "robinson.csv").write_text("030 901820\n+49 89 1234567\n+44 20 7946 0000\n")
    rejects = setup / "rejects.csv"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    code = run("import", "dnc", str(setup / "robinson.csv"), "--source", "robinson_de",
               "--list-date", today, "--config", str(config),
               "--rejects", str(rejects))  # fmt: skip
    assert code == 1  # the import ran, and the UK number on line 3 was rejected
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "robinson_de numbers imported  2" in out, out
    assert "numbers without +country read as DE (the robinson_de list holds DE numbers)" in out
    assert "not a DE number (+442079460000)" in out
    [_, bad] = rejects.read_text().splitlines()
    assert bad.startswith("3,") and "not a DE number" in bad, bad

    async def check() -> None:
        async with await Store.open(setup / "var" / "store.sqlite3") as store:
            for number in ("+4930901820", "+49891234567"):
                assert [h.source for h in await store.dnc.lookup(number)] == ["robinson_de"]
            assert await store.dnc.lookup("+443090182") == []
            assert (await store.dnc.list_dates())["robinson_de"].list_date == today

    asyncio.run(check())
    # Without the declaration, the name is unknown and the error says where to declare it.
    config.write_text(config.read_text().split("[[dnc_list]]")[0])
    assert run("import", "dnc", str(setup / "robinson.csv"), "--source", "robinson_de",
               "--list-date", today, "--config", str(config)) != 0  # fmt: skip
    assert "[[dnc_list]]" in capsys.readouterr().err
