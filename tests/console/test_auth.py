"""The console's users, lock-out, sessions and CSRF tokens, on an injected clock."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dialguard.console.auth import (
    LOCK_AFTER,
    LockOut,
    Sessions,
    User,
    UserError,
    UserFile,
    csrf_ok,
    hash_password,
    password_matches,
)


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_password_is_stored_as_an_argon2_hash_only(tmp_path: Path) -> None:
    users = UserFile(tmp_path / "users.json")
    users.add("sue", "supervisor", "correct horse battery")
    text = (tmp_path / "users.json").read_text()
    assert "correct horse battery" not in text
    [row] = json.loads(text)["users"]
    assert row["hash"].startswith("$argon2id$")
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    sue = users.load()["sue"]
    assert password_matches(sue, "correct horse battery")
    assert not password_matches(sue, "correct horse batterY")


def test_same_password_hashes_differently_each_time() -> None:
    assert hash_password("correct horse battery") != hash_password("correct horse battery")


def test_add_again_replaces_password_and_role(tmp_path: Path) -> None:
    users = UserFile(tmp_path / "users.json")
    users.add("sue", "supervisor", "first password!")
    users.add("vic", "viewer", "another password")
    users.add("sue", "viewer", "second password!")
    loaded = users.load()
    assert sorted(loaded) == ["sue", "vic"]
    assert loaded["sue"].role == "viewer" and not loaded["sue"].may_change
    assert password_matches(loaded["sue"], "second password!")
    assert not password_matches(loaded["sue"], "first password!")


@pytest.mark.parametrize(
    ("name", "role", "password", "problem"),
    [
        ("sue smith", "supervisor", "long enough pw", "user name"),
        ("", "supervisor", "long enough pw", "user name"),
        ("sue", "admin", "long enough pw", "role 'admin'"),
        ("sue", "viewer", "short", "at least 10"),
    ],
)
def test_bad_user_is_refused_naming_what(
    tmp_path: Path, name: str, role: str, password: str, problem: str
) -> None:
    with pytest.raises(UserError, match=problem):
        UserFile(tmp_path / "u.json").add(name, role, password)
    assert not (tmp_path / "u.json").exists()


def test_no_file_means_no_users_and_a_broken_file_is_named(tmp_path: Path) -> None:
    assert UserFile(tmp_path / "none.json").load() == {}
    bad = tmp_path / "bad.json"
    bad.write_text('{"users": [{"name": "x"}]}')
    with pytest.raises(UserError, match=r"bad\.json"):
        UserFile(bad).load()


def test_lock_out_after_repeated_failures_and_release_after_its_time() -> None:
    clock = Clock()
    lock = LockOut(clock, after=3, for_s=60)
    for _ in range(2):
        lock.failed("sue")
    assert lock.locked_for("sue") == 0
    lock.failed("sue")
    assert lock.locked_for("sue") == 60
    assert lock.locked_for("vic") == 0  # per name
    clock.t += 59
    assert lock.locked_for("sue") == pytest.approx(1)
    clock.t += 1.5
    assert lock.locked_for("sue") == 0


def test_success_clears_the_count() -> None:
    lock = LockOut(Clock(), after=LOCK_AFTER)
    for _ in range(LOCK_AFTER - 1):
        lock.failed("sue")
    lock.succeeded("sue")
    lock.failed("sue")
    assert lock.locked_for("sue") == 0


def _user() -> User:
    return User("sue", "supervisor", "$argon2id$unused")


def test_session_expires_when_idle() -> None:
    clock = Clock()
    sessions = Sessions(clock, idle_s=100, max_s=1000)
    s = sessions.start(_user())
    clock.t += 99
    assert sessions.get(s.id) is s  # activity restarts the idle timer
    clock.t += 99
    assert sessions.get(s.id) is s
    clock.t += 101
    assert sessions.get(s.id) is None
    clock.t -= 101
    assert sessions.get(s.id) is None  # gone for good, not just hidden


def test_session_expires_at_its_maximum_age_however_active() -> None:
    clock = Clock()
    sessions = Sessions(clock, idle_s=100, max_s=250)
    s = sessions.start(_user())
    for _ in range(2):
        clock.t += 90
        assert sessions.get(s.id) is s
    clock.t += 90  # 270 s after login
    assert sessions.get(s.id) is None


def test_session_ids_and_csrf_tokens_are_random_and_unknown_ids_refused() -> None:
    sessions = Sessions(Clock())
    a, b = sessions.start(_user()), sessions.start(_user())
    assert a.id != b.id and a.csrf != b.csrf and a.id != a.csrf
    assert len(a.id) >= 40
    assert sessions.get("forged") is None
    assert sessions.get(None) is None
    sessions.end(a.id)
    assert sessions.get(a.id) is None
    assert sessions.get(b.id) is b


def test_csrf_token_must_be_the_sessions_own() -> None:
    sessions = Sessions(Clock())
    a, b = sessions.start(_user()), sessions.start(_user())
    assert csrf_ok(a, a.csrf)
    assert not csrf_ok(a, b.csrf)
    assert not csrf_ok(a, None)
    assert not csrf_ok(a, "")
    assert not csrf_ok(a, a.csrf[:-1])
