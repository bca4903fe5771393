"""Officer accounts (passwords hashed with scrypt) and sign-in sessions, in the state database.

A session is a random token in an HttpOnly, SameSite=Strict cookie; only its SHA-256 is
stored. Each session carries its own CSRF token, which every form posts back and the server
compares in constant time (synchroniser-token pattern).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .._auth import RANK, Role
from .._sqlite import Database

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS officer_user (
        username TEXT PRIMARY KEY, role TEXT NOT NULL, officer_ref TEXT NOT NULL,
        salt BLOB NOT NULL, digest BLOB NOT NULL, params TEXT NOT NULL,
        created_at TEXT NOT NULL, disabled_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS officer_session (
        digest TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
        created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
)


class UserError(ValueError):
    """A user name or password that cannot be accepted."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    officer_ref: str

    def may(self, needed: Role) -> bool:
        return RANK[self.role] >= RANK[needed]


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str


def _hash(
    password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024
    )


def _now() -> datetime:
    return datetime.now(UTC)


class UserStore:
    """Accounts and sessions of the officer view."""

    def __init__(self, db: Database) -> None:
        self._db = db
        for statement in SCHEMA:
            db.execute(statement)
        self._dummy_salt = secrets.token_bytes(16)

    # -- accounts ---------------------------------------------------------------------------

    def add(
        self, username: str, password: str, role: Role | str = Role.OFFICER, officer_ref: str = ""
    ) -> User:
        """Create an account; the password is kept only as an scrypt hash. Only the roles
        that may sign in to the officer view (officer, admin) can be given."""
        username, role = self.check_new_account(username, password, role)
        salt = secrets.token_bytes(16)
        user = User(username, role, (officer_ref or username).strip()[:60])
        rows = self._db.execute(
            "INSERT OR IGNORE INTO officer_user (username, role, officer_ref, salt, digest, "
            "params, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING username",
            (
                username,
                role.value,
                user.officer_ref,
                salt,
                _hash(password, salt),
                f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}",
                _now().isoformat(),
            ),
        )
        if not rows:
            raise UserError(f"a user named {username!r} exists already")
        return user

    @staticmethod
    def check_new_account(
        username: str, password: str, role: Role | str = Role.OFFICER
    ) -> tuple[str, Role]:
        """The user name (stripped) and role of a new account, or :class:`UserError`: what
        :meth:`add` checks before it writes, for a caller that checks before it opens the
        record database (``parcelscreen users add``)."""
        username = username.strip()
        if not username or len(username) > 60 or not username.isprintable():
            raise UserError("the user name must be 1 to 60 printable characters")
        _check_password(password)
        return username, _signin_role(role)

    @staticmethod
    def check_password(password: str) -> None:
        """Refuse a password too short to keep (:class:`UserError`)."""
        _check_password(password)

    def set_password(self, username: str, password: str) -> bool:
        """A new password for an account (its sessions end); False if there is no such
        account."""
        _check_password(password)
        salt = secrets.token_bytes(16)
        rows = self._db.execute(
            "UPDATE officer_user SET salt = ?, digest = ?, params = ? WHERE username = ? "
            "RETURNING username",
            (salt, _hash(password, salt), f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}", username),
        )
        self._db.execute("DELETE FROM officer_session WHERE username = ?", (username,))
        return bool(rows)

    def enable(self, username: str) -> bool:
        """Enable a disabled account; False if there is no disabled account of that name."""
        rows = self._db.execute(
            "UPDATE officer_user SET disabled_at = NULL WHERE username = ? "
            "AND disabled_at IS NOT NULL RETURNING username",
            (username,),
        )
        return bool(rows)

    def set_role(self, username: str, role: Role | str) -> bool:
        """Give an account another role that may sign in (its sessions end, so the new role
        holds from the next sign-in); False if there is no such account."""
        role = _signin_role(role)
        rows = self._db.execute(
            "UPDATE officer_user SET role = ? WHERE username = ? RETURNING username",
            (role.value, username),
        )
        self._db.execute("DELETE FROM officer_session WHERE username = ?", (username,))
        return bool(rows)

    def disable(self, username: str) -> bool:
        rows = self._db.execute(
            "UPDATE officer_user SET disabled_at = ? WHERE username = ? AND disabled_at IS NULL "
            "RETURNING username",
            (_now().isoformat(), username),
        )
        self._db.execute("DELETE FROM officer_session WHERE username = ?", (username,))
        return bool(rows)

    def list(self) -> list[dict[str, str | None]]:
        rows = self._db.execute(
            "SELECT username, role, officer_ref, created_at, disabled_at "
            "FROM officer_user ORDER BY username"
        )
        names = ("username", "role", "officer_ref", "created_at", "disabled_at")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def exists(self, username: str) -> bool:
        """Whether an account of this name exists (enabled or not)."""
        return bool(self._db.execute("SELECT 1 FROM officer_user WHERE username = ?", (username,)))

    def check(self, username: str, password: str) -> User | None:
        """The user if the password is right, else None (constant work either way)."""
        rows = self._db.execute(
            "SELECT role, officer_ref, salt, digest, params FROM officer_user "
            "WHERE username = ? AND disabled_at IS NULL",
            (username,),
        )
        if not rows:
            _hash(password, self._dummy_salt)
            return None
        role, ref, salt, digest, params = rows[0]
        _, n, r, p = params.split(":")
        if not hmac.compare_digest(_hash(password, salt, int(n), int(r), int(p)), digest):
            return None
        return User(username, Role(role), ref)

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, user: User, lifetime: timedelta) -> tuple[str, Session]:
        """A new session; returns the cookie value (shown once, stored hashed) and the session."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = _now()
        self._db.execute("DELETE FROM officer_session WHERE expires_at < ?", (now.isoformat(),))
        self._db.execute(
            "INSERT INTO officer_session VALUES (?, ?, ?, ?, ?)",
            (_digest(token), user.username, csrf, now.isoformat(), (now + lifetime).isoformat()),
        )
        return token, Session(user, csrf)

    def session(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        rows = self._db.execute(
            "SELECT u.username, u.role, u.officer_ref, s.csrf FROM officer_session s "
            "JOIN officer_user u ON u.username = s.username "
            "WHERE s.digest = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
            (_digest(token), _now().isoformat()),
        )
        if not rows:
            return None
        username, role, ref, csrf = rows[0]
        return Session(User(username, Role(role), ref), csrf)

    def close_session(self, token: str | None) -> None:
        if token:
            self._db.execute("DELETE FROM officer_session WHERE digest = ?", (_digest(token),))


#: Roles that may sign in to the officer view (a sorter's account could never sign in).
SIGNIN_ROLES = (Role.OFFICER, Role.ADMIN)


def _signin_role(role: Role | str) -> Role:
    try:
        found = Role(role)
    except ValueError:
        found = None
    if found not in SIGNIN_ROLES:
        raise UserError(
            f"role {str(role)!r} cannot sign in to the officer view; choose one of "
            f"{', '.join(r.value for r in SIGNIN_ROLES)}"
        )
    assert found is not None
    return found


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise UserError("the password must have at least 10 characters")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_ok(expected: str | None, given: object) -> bool:
    """Whether a posted CSRF token matches the expected one (constant-time)."""
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
