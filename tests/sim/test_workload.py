"""Workloads: S1–S3 exactly as docs/design.md, custom ones from TOML with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialguard.sim import S1, S2, S3, WorkloadError, load_workload


def test_standard_workloads_match_design() -> None:
    assert (S1.agents, S1.hit_rate, S1.busy, S1.invalid) == (20, 0.30, 0.10, 0.05)
    assert (S1.talk_mean_s, S1.talk_cv, S1.wrap_s) == (120.0, 0.95, 15.0)
    assert (S2.agents, S2.hit_rate, S2.busy, S2.invalid, S2.voicemail) == (
        50, 0.12, 0.08, 0.10, 0.15,
    )  # fmt: skip
    assert S2.voicemail_answer_s == (18.0, 26.0) and S2.voicemail_agent_s == 6.0
    assert (S2.talk_mean_s, S2.talk_cv, S2.wrap_s) == (180.0, 1.0, 30.0)
    assert (S3.agents, S3.hit_rate, S3.talk_mean_s, S3.talk_cv, S3.wrap_s) == (
        6, 0.25, 60.0, 0.8, 10.0,
    )  # fmt: skip
    for w in (S1, S2, S3):
        assert w.pdd_s == (1.0, 3.0) and w.ring_median_s == 7.0 and w.ring_sigma == 0.5
        assert w.no_answer_timeout_s == 20.0 and w.problems() == []
        # live answerers are a little more than p: some would answer after 20 s
        assert w.hit_rate < w.live_share < w.hit_rate * 1.03


def test_toml_with_base_overrides_only_what_it_gives(tmp_path: Path) -> None:
    f = tmp_path / "big.toml"
    f.write_text('base = "S1"\nagents = 40\npdd_s = [0.5, 1.5]\n')
    w = load_workload(f)
    assert w.agents == 40 and w.pdd_s == (0.5, 1.5)
    assert w.hit_rate == S1.hit_rate and w.name == "S1*"


def test_toml_from_scratch(tmp_path: Path) -> None:
    f = tmp_path / "team.toml"
    f.write_text(
        "agents = 3\nhit_rate = 0.2\nbusy = 0.1\ninvalid = 0.1\n"
        "talk_mean_s = 90\ntalk_cv = 0.5\nwrap_s = 5\n"
    )
    w = load_workload(f)
    assert w.name == "team" and w.agents == 3 and w.talk_mean_s == 90.0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('base = "S1"\nagnets = 4\n', "unknown key(s) ['agnets']"),
        ("agents = 3\n", "missing key(s)"),
        ('base = "S1"\npdd_s = [3]\n', "pdd_s: must be two numbers"),
        ('base = "S1"\npdd_s = [3, 1]\n', "pdd_s: [3.0, 1.0] is not a range"),
        ('base = "S1"\nbusy = 0.9\n', "exceed 1"),
        ('base = "S1"\nagents = 2.5\n', "agents: must be a whole number"),
        ('base = "S1"\nhit_rate = "high"\n', "hit_rate: must be a number"),
        ('base = "S9"\n', "base: 'S9'"),
        ("agents = \n", "not valid TOML"),
    ],
)
def test_bad_toml_names_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "w.toml"
    f.write_text(text)
    with pytest.raises(WorkloadError) as e:
        load_workload(f)
    assert str(f) in str(e.value) and needle in str(e.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="no such workload file"):
        load_workload(tmp_path / "nope.toml")


def test_wrap_cv_and_wrap_cap_load_from_toml_and_are_checked(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text('base = "S1"\nwrap_cv = 0.3\nwrap_cap_s = 20\n')
    w = load_workload(f)
    assert (w.wrap_cv, w.wrap_cap_s, w.wrap_s) == (0.3, 20.0, 15.0)
    f.write_text('base = "S1"\nwrap_cv = -1\n')
    with pytest.raises(WorkloadError, match="wrap_cv"):
        load_workload(f)


def test_drawn_wrap_ups_vary_and_end_at_the_cap() -> None:
    from dataclasses import replace

    from dialguard.pacing import AgentChanged
    from dialguard.sim import S3, ContactCentre
    from dialguard.sim.modes import make_pacer

    w = replace(S3, wrap_cv=0.5, wrap_cap_s=12.0)
    seen: list[float] = []

    class Spy:
        def __init__(self) -> None:
            self.inner = make_pacer("progressive", w)
            self.wrap_at: dict[str, float] = {}

        def handle(self, event: object, now: float) -> None:
            if isinstance(event, AgentChanged):
                if event.state == "wrap":
                    self.wrap_at[event.agent] = now
                elif event.state == "ready" and event.agent in self.wrap_at:
                    seen.append(now - self.wrap_at.pop(event.agent))
            self.inner.handle(event, now)  # type: ignore[arg-type]

        def poll(self, now: float) -> list[object]:
            return self.inner.poll(now)  # type: ignore[return-value]

        def next_deadline(self) -> float | None:
            return self.inner.next_deadline()

    ContactCentre(w, Spy(), seed=2, hours=1).run()  # type: ignore[arg-type]
    assert len(seen) > 30
    assert max(seen) == pytest.approx(12.0)  # the cap, enforced like the engine does
    assert min(seen) < 8.0  # drawn, not fixed
