"""Issue 17's "each item has a test that fails on the old code", checked by undoing each fix.

Each mutant below puts one compliance fix of issue 17 back the way it was (or breaks one
rule its docs promise) in a scratch copy of ``src/``, then runs the tests that should
catch it; a mutant whose tests all pass is a rule no test proves. Run from anywhere:

    .venv/bin/python scripts/law_mutants.py [NAME ...]

It prints one line per mutant, ``killed`` (some test failed, as it should) or ``SURVIVED``,
with the failing tests, and exits 1 if any survived or if an edit no longer applies (the
code moved on: update the mutant). Slow tests run only for the mutants that need them;
the whole list takes 2–4 minutes on this shared 2-core machine.
"""

# ruff: noqa: E501 (the mutants quote source lines whole)

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, [(file under src/dialguard, exact text, replacement)], [tests that must fail])
MUTANTS: list[tuple[str, list[tuple[str, str, str]], list[str]]] = [
    (
        "1a_list_read_in_default_region",
        [
            (
                "importing/dnc.py",
                "region, region_how = list_region(dnc_source, default_region)",
                "region, region_how = default_region, 'engine.default_region (or --region)'",
            ),
            (
                "importing/dnc.py",
                "national = dnc_source in NATIONAL_LIST_REGION",
                "national = False",
            ),
        ],
        [
            "tests/importing/test_dnc.py::test_a_us_registry_file_is_read_as_us_numbers_whatever_the_default_region",
            "tests/importing/test_dnc.py::test_a_contact_and_a_list_entry_written_differently_always_match",
            "tests/engine/test_selection.py::test_a_number_on_the_us_registry_is_never_picked_with_a_gb_default_region",
            "tests/cli/test_imports.py::test_dnc_happy_path_records_list_date",
        ],
    ),
    (
        "1b_no_country_check",
        [("importing/dnc.py", "national = dnc_source in NATIONAL_LIST_REGION", "national = False")],
        [
            "tests/importing/test_dnc.py::test_a_us_registry_file_is_read_as_us_numbers_whatever_the_default_region"
        ],
    ),
    (
        "1c_cli_region_not_reported",
        [
            (
                "cli/imports.py",
                'f"numbers without +country read as {report.region} ({report.region_how})",',
                '"",',
            )
        ],
        ["tests/cli/test_imports.py"],
    ),
    (
        "1d_cli_default_region_for_lists",
        [
            (
                "importing/dnc.py",
                "region, region_how = list_region(dnc_source, default_region)",
                "region, region_how = default_region, 'engine.default_region (or --region)'",
            )
        ],
        [
            "tests/cli/test_imports.py::test_a_us_registry_file_under_the_shipped_gb_default_is_read_as_us_numbers"
        ],
    ),
    (
        "1e_cli_contradiction_allowed",
        [
            (
                "cli/imports.py",
                "if region is not None and own is not None and default_region != own:",
                "if False:",
            )
        ],
        ["tests/cli/test_imports.py::test_a_region_contradicting_the_lists_country_is_refused"],
    ),
    (
        "2a_no_regime_calendar",
        [
            (
                "rules/window.py",
                "calendar = HolidayCalendar.of(country, holiday_subdivisions) if country else None",
                "calendar = None",
            )
        ],
        ["tests/rules/test_regimes.py"],
    ),
    (
        "2b_no_state_from_zone",
        [
            (
                "rules/holidays.py",
                "mine = ZONE_SUBDIVISION.get(self.country, {}).get(zone)",
                "mine = None",
            )
        ],
        ["tests/rules/test_regimes.py"],
    ),
    (
        "2c_no_fr_overseas",
        [("rules/holidays.py", '        "Indian/Reunion": "974",\n', "")],
        ["tests/rules/test_regimes.py"],
    ),
    (
        "3a_gate_ignores_regime_caps",
        [
            (
                "rules/gate.py",
                "check_caps(i.history, i.campaign.caps_in_force(), i.now, zones)",
                "check_caps(i.history, i.campaign.caps, i.now, zones)",
            )
        ],
        [
            "tests/rules/test_regimes.py::test_france_caps_a_7th_call_with_the_default_caps",
            "tests/rules/test_gate.py::test_france_window_and_cap_of_four_per_30_days",
            "tests/engine/test_selection.py",
        ],
    ),
    (
        "3b_loosen_allowed",
        [("config/campaign.py", "            if mine > limit:", "            if False:")],
        ["tests/rules/test_regimes.py::test_a_campaign_may_tighten_the_regime_but_never_loosen_it"],
    ),
    (
        "3c_tighten_ignored",
        [
            (
                "config/campaign.py",
                "name: limit if getattr(self.caps, name) == 0 else min(getattr(self.caps, name), limit)",
                "name: limit",
            )
        ],
        ["tests/rules/test_regimes.py::test_a_campaign_may_tighten_the_regime_but_never_loosen_it"],
    ),
    (
        "4a_report_fixed_blocks",
        [
            (
                "rules/abandoned.py",
                "starts.update(b for t in times for b in (t - window_s, t) if since <= b <= last_start)",
                "starts.update(since + k * window_s for k in range(int((last_start - since) // window_s) + "
                "1))",
            )
        ],
        [
            "tests/reports/test_compliance.py::test_a_bad_24_hours_straddling_two_periods_is_found_and_named",
            "tests/rules/test_abandoned.py",
            "tests/cli/test_report.py",
        ],
    ),
    (
        "4b_faithful_fixed_block",
        [
            (
                "pacing/governor.py",
                "        edge = now - self.window_s\n"
                "        self.window_start = max(self.window_start, edge)\n"
                "        aged = False\n"
                "        while self._answers and self._answers[0][0] <= self.window_start:\n"
                "            _, abandoned = self._answers.popleft()\n"
                "            self.answered -= 1\n"
                "            self.abandoned -= int(abandoned)\n"
                "            aged = True\n"
                "        if aged:\n"
                "            self._recompute()\n"
                "        return aged",
                '        block = getattr(self, "_block", None)\n'
                "        if block is None:\n"
                "            block = self._block = self.window_start + self.window_s\n"
                "        if now < block + self.window_s:\n"
                "            return False\n"
                "        self._block = block + ((now - block) // self.window_s) * self.window_s\n"
                "        self._answers.clear(); self.answered = 0; self.abandoned = 0\n"
                "        self._recompute()\n"
                "        return True",
            )
        ],
        ["tests/pacing/test_governor.py", "tests/engine/test_answer_history.py"],
    ),
    (
        "4c_pacer_seed_not_mapped",
        [
            (
                "pacing/pacer.py",
                "            offset = now - event.wall_now\n",
                "            offset = 0.0\n",
            )
        ],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "4d_pacing_change_forgets",
        [("pacing/pacer.py", "            self.budget.seed(kept, now)\n", "            pass\n")],
        ["tests/engine/test_answer_history.py", "tests/pacing/test_pacer.py"],
    ),
    (
        "4e_runner_never_seeds_at_start",
        [
            (
                "engine/runner.py",
                "                await self._seed_governor()\n                while not self._stopping:",
                "                while not self._stopping:",
            )
        ],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "4f_runner_no_reseed_on_window_change",
        [
            (
                "engine/runner.py",
                "            self._reseed = True  # the new window's answers come from the store",
                "            pass",
            )
        ],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "4g_seed_failure_not_retried",
        [
            (
                "engine/runner.py",
                "            self._reseed = True\n            return",
                "            return",
            )
        ],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "4h_seed_not_per_campaign",
        [
            (
                "store/answers.py",
                '" WHERE campaign_id = ? AND created_at > ?"',
                '" WHERE ? IS NOT NULL AND created_at > ?"',
            )
        ],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "4i_orphan_not_told",
        [
            (
                "engine/engine.py",
                "            runner.report(UnseenAnswer(answered_at, True, self.wall()))",
                "            pass",
            )
        ],
        [
            "tests/engine/test_engine.py::test_an_answer_to_a_call_of_the_crashed_process_is_recorded_as_abandoned"
        ],
    ),
    (
        "4j_add_ignored",
        [
            (
                "pacing/pacer.py",
                "            self.budget.add(event.at - event.wall_now + now, now, abandoned=event.abandoned)",
                "            pass",
            )
        ],
        [
            "tests/engine/test_answer_history.py",
            "tests/engine/test_engine.py::test_an_answer_to_a_call_of_the_crashed_process_is_recorded_as_abandoned",
        ],
    ),
    (
        "4k_reseed_replaces_all",
        [
            (
                "engine/runner.py",
                "self.deps.store, self.campaign.id, window, self.deps.wall(), self._seeded_until",
                "self.deps.store, self.campaign.id, window, self.deps.wall(), None",
            )
        ],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "4m_pacer_ignores_cut",
        [("pacing/pacer.py", "            if event.until is not None:", "            if False:")],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "5a_gate_old_definition",
        [
            (
                "rules/types.py",
                "        return is_abandoned(\n"
                "            flagged=self.abandoned,\n"
                "            outcome=self.outcome,\n"
                "            answered_at=self.answered_at,\n"
                "            connected_at=self.connected_at,\n"
                "        )",
                "        return self.abandoned or self.outcome == 'abandoned'",
            )
        ],
        ["tests/rules/test_retries.py"],
    ),
    (
        "5b_report_sql_flag_only",
        [
            (
                "store/period_figures.py",
                "CASE WHEN a.abandoned = 1 OR a.outcome = 'abandoned'\n",
                "CASE WHEN a.abandoned = 1\n",
            )
        ],
        ["tests/reports/test_compliance.py", "tests/store/test_period_figures.py"],
    ),
    (
        "5c_seed_flag_only",
        [
            (
                "engine/answer_history.py",
                "            outcome=a.outcome,",
                "            outcome=None,",
            )
        ],
        ["tests/engine/test_answer_history.py"],
    ),
    (
        "5d_definition_drops_outcome",
        [("rules/abandoned.py", '    if flagged or outcome == "abandoned":', "    if flagged:")],
        ["tests/rules/test_abandoned.py", "tests/rules/test_retries.py"],
    ),
    (
        "6a_list_age_inclusive",
        [("rules/dnc.py", "if age >= MAX_LIST_AGE_S[name]:", "if age > MAX_LIST_AGE_S[name]:")],
        ["tests/rules/test_dnc.py"],
    ),
    (
        "6b2_7d_not_calendar",
        [("rules/frequency.py", '7 * DAY_S, "7 days", calendar_days=7)', '7 * DAY_S, "7 days")')],
        ["tests/rules/test_regimes.py", "tests/rules/test_frequency.py"],
    ),
    (
        "6b3_calendar_only",
        [("rules/frequency.py", "        return min(starts)", "        return max(starts)")],
        ["tests/rules/test_frequency.py", "tests/rules/test_regimes.py"],
    ),
    (
        "6b4_calendar_only_start",
        [
            (
                "rules/frequency.py",
                "        starts = [now - self.span_s]",
                "        starts = [] if self.calendar_days and zones else [now - self.span_s]",
            )
        ],
        [
            "tests/rules/test_frequency.py::test_seven_calendar_days_across_a_dst_change_in_the_callees_zone"
        ],
    ),
    (
        "6b_30d_not_calendar",
        [
            (
                "rules/frequency.py",
                '30 * DAY_S, "30 days", calendar_days=30)',
                '30 * DAY_S, "30 days")',
            )
        ],
        ["tests/rules/test_regimes.py", "tests/rules/test_frequency.py"],
    ),
    (
        "6c_lockout_rounds",
        [
            (
                "rules/retries.py",
                "{_ago(now - max(live))} ago",
                "{(now - max(live)) / 3600:.1f} h ago",
            )
        ],
        ["tests/rules/test_retries.py"],
    ),
    (
        "7_config_check_silent",
        [
            (
                "cli/config_cmd.py",
                "        for line in what_is_imposed(c):\n",
                "        for line in what_is_imposed(c)[:0]:\n",
            )
        ],
        ["tests/cli/test_config_check.py"],
    ),
]


def run(name: str, edits: list[tuple[str, str, str]], tests: list[str], scratch: Path) -> bool:
    """Apply one mutant in a copy of src/ and run its tests; True if it was killed."""
    root = scratch / name
    shutil.copytree(ROOT / "src", root / "src")
    for file, old, new in edits:
        path = root / "src" / "dialguard" / file
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            print(f"{name}: edit no longer applies ({file}: found {text.count(old)} times)")
            return False
        path.write_text(text.replace(old, new), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    failed = sorted({line.split(" ")[1].split("[")[0] for line in out.stdout.splitlines()
                     if line.startswith("FAILED ")})  # fmt: skip
    print(f"{name}: {'killed' if out.returncode else 'SURVIVED'}", *failed, sep="\n    ")
    return out.returncode != 0


def main(names: list[str]) -> int:
    chosen = [m for m in MUTANTS if not names or m[0] in names]
    unknown = set(names) - {m[0] for m in MUTANTS}
    if unknown:
        print(f"unknown mutants: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="law-mutants-") as scratch:
        killed = [run(n, e, t, Path(scratch)) for n, e, t in chosen]
    print(f"{sum(killed)} of {len(killed)} mutants killed")
    return 0 if all(killed) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
