"""Who may use the console: users and roles, sessions, lock-out and CSRF tokens.

Every piece takes its clock as an argument (``clock=time.time`` in production), so the
tests can walk a session past its expiry or a lock-out past its end without sleeping.

- :class:`UserFile` keeps users in a small JSON file beside the store (name, role,
  argon2 hash; mode 0600). It is not in the store on purpose: the console reads the
  store only, and a user file can be managed, backed up and removed on its own.
  There is no default user and no default password: ``dialguard console add-user``
  creates them.
- :class:`LockOut` refuses a name after :data:`LOCK_AFTER` failed logins in a row for
  :data:`LOCK_FOR_S`; while locked, even the right password is refused (so a guesser
  learns nothing from the answer).
- :class:`Sessions` hands out random session ids that expire :data:`SESSION_IDLE_S`
  after the last request and :data:`SESSION_MAX_S` after login, whichever is first;
  each session carries its own CSRF token, which every POST must echo.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeAlias, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role: TypeAlias = Literal["supervisor", "viewer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
Clock: TypeAlias = Callable[[], float]

NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
"""A user name is also the audit actor (at most 64 characters there)."""
_NAME = re.compile(NAME_PATTERN)
MIN_PASSWORD: Final = 10
"""Shortest password accepted: long enough that the lock-out makes guessing hopeless."""

LOCK_AFTER: Final = 5
LOCK_FOR_S: Final = 300.0
SESSION_IDLE_S: Final = 30 * 60.0
SESSION_MAX_S: Final = 12 * 3600.0
"""A shift: a wall screen logged in at 08:00 asks again at 20:00."""

_hasher = PasswordHasher()


class UserError(ValueError):
    """A bad user name, role or password, or a user file that cannot be read."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    password_hash: str

    @property
    def may_change(self) -> bool:
        """Only supervisors start, pause, resume, stop and change pacing."""
        return self.role == "supervisor"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(
            f"user name {name!r}: 1 to 64 letters, digits, '_', '.', '@' or '-' "
            "(it is the actor in the audit table)"
        )
    return name


def check_role(role: str) -> Role:
    for r in ROLES:
        if role == r:
            return r
    raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class UserFile:
    """Users in a JSON file: ``{"users": [{"name", "role", "hash"}]}``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, User]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = [
                User(check_name(u["name"]), check_role(u["role"]), str(u["hash"]))
                for u in data["users"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"user file {self.path}: cannot read it ({e})") from None
        return {u.name: u for u in users}

    def add(self, name: str, role: str, password: str) -> User:
        """Create or replace a user (replacing is how a password is reset)."""
        user = User(check_name(name), check_role(role), hash_password(password))
        users = self.load()
        users[user.name] = user
        self._save(users)
        return user

    def _save(self, users: dict[str, User]) -> None:
        """Write a new file and rename it over the old: never half a user file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"users": [{"name": u.name, "role": u.role, "hash": u.password_hash} for u in
                          sorted(users.values(), key=lambda u: u.name)]}  # fmt: skip
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(body, f, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


class LockOut:
    """Failed logins per user name; see the module docs."""

    def __init__(self, clock: Clock, *, after: int = LOCK_AFTER, for_s: float = LOCK_FOR_S) -> None:
        self.clock = clock
        self.after = after
        self.for_s = for_s
        self._by_name: dict[str, _Failures] = {}

    def locked_for(self, name: str) -> float:
        """Seconds ``name`` stays locked (0: it may try)."""
        f = self._by_name.get(name)
        return 0.0 if f is None else max(0.0, f.locked_until - self.clock())

    def failed(self, name: str) -> None:
        f = self._by_name.setdefault(name, _Failures())
        f.count += 1
        if f.count >= self.after:
            f.locked_until = self.clock() + self.for_s
            f.count = 0

    def succeeded(self, name: str) -> None:
        self._by_name.pop(name, None)


@dataclass
class Session:
    id: str
    user: User
    csrf: str
    started: float
    last_seen: float
    flash: list[str] = field(default_factory=list)
    """Answers to the user's last changes, shown once on the next page."""


class Sessions:
    """Logged-in sessions, in memory (a console restart logs everyone out)."""

    def __init__(
        self, clock: Clock, *, idle_s: float = SESSION_IDLE_S, max_s: float = SESSION_MAX_S
    ) -> None:
        self.clock = clock
        self.idle_s = idle_s
        self.max_s = max_s
        self._by_id: dict[str, Session] = {}

    def start(self, user: User) -> Session:
        now = self.clock()
        s = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), now, now)
        self._by_id[s.id] = s
        return s

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, its idle timer restarted; None if expired.

        An open floor page's event stream counts as activity: a wall screen stays
        logged in while it shows the floor, until :data:`SESSION_MAX_S` after login."""
        s = self._live(session_id)
        if s is not None:
            s.last_seen = self.clock()
        return s

    def _live(self, session_id: str | None) -> Session | None:
        s = self._by_id.get(session_id) if session_id else None
        if s is None:
            return None
        now = self.clock()
        if now - s.last_seen > self.idle_s or now - s.started > self.max_s:
            del self._by_id[s.id]
            return None
        return s

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(session_id, None)


def csrf_ok(session: Session, token: str | None) -> bool:
    """Does a POST carry this session's CSRF token (compared in constant time)?"""
    return bool(token) and hmac.compare_digest(session.csrf.encode(), (token or "").encode())
