"""API keys with roles, stored as HMAC-SHA256 under the server secret (never in clear).

A key reads ``ps_<key id>_<secret>``; the key ID names it in logs and in the decision log.
Roles: ``monitor`` reads ``/metrics`` and nothing else (a Prometheus scrape key); ``sorter``
scores and reads the API's and the model's metadata; ``officer`` also reads explanations and
records outcomes; ``admin`` also manages models and the halt switch.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ._errors import NotFound, Unauthenticated
from ._sqlite import Database


class Role(StrEnum):
    MONITOR = "monitor"
    SORTER = "sorter"
    OFFICER = "officer"
    ADMIN = "admin"


#: What each role may do, by the least role an action needs.
RANK = {Role.MONITOR: 0, Role.SORTER: 1, Role.OFFICER: 2, Role.ADMIN: 3}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS api_key (
        key_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, digest TEXT NOT NULL,
        created_at TEXT NOT NULL, revoked_at TEXT)""",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: key ID and role (the key itself is never kept)."""

    key_id: str
    role: Role

    def may(self, needed: Role) -> bool:
        return RANK[self.role] >= RANK[needed]


class KeyStore:
    """API keys in the state database."""

    def __init__(self, db: Database, secret: str, reader: Database | None = None) -> None:
        self._db = db
        #: Where keys are looked up: the service gives a connection of its own, so a request
        #: is authenticated while a scoring batch holds the writer connection (WAL readers
        #: never wait for writers), and a revocation still counts from the next request on.
        self._reader = reader or db
        self._secret = secret.encode()
        for statement in SCHEMA:
            db.execute(statement)

    def _digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    def create(self, role: Role | str, name: str = "") -> tuple[str, str]:
        """A new key of ``role``; returns (key ID, key). The key is shown once, stored hashed."""
        role = Role(role)
        key_id = secrets.token_hex(6)
        key = f"ps_{key_id}_{secrets.token_urlsafe(24)}"
        self._db.execute(
            "INSERT INTO api_key (key_id, name, role, digest, created_at) VALUES (?, ?, ?, ?, ?)",
            (key_id, name, role.value, self._digest(key), datetime.now(UTC).isoformat()),
        )
        return key_id, key

    def revoke(self, key_id: str) -> None:
        rows = self._db.execute(
            "UPDATE api_key SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL "
            "RETURNING key_id",
            (datetime.now(UTC).isoformat(), key_id),
        )
        if not rows:
            raise NotFound(f"no active key with ID {key_id!r}")

    def list(self) -> list[dict[str, str | None]]:
        rows = self._db.execute(
            "SELECT key_id, name, role, created_at, revoked_at FROM api_key ORDER BY created_at"
        )
        names = ("key_id", "name", "role", "created_at", "revoked_at")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def authenticate(self, key: str | None) -> Caller:
        """The caller a key belongs to; Unauthenticated for no, malformed, unknown or revoked."""
        if not key:
            raise Unauthenticated("an API key is required (Authorization: Bearer <key>)")
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "ps" or len(key) > 200:
            raise Unauthenticated("the API key is malformed")
        rows = self._reader.execute(
            "SELECT role, digest FROM api_key WHERE key_id = ? AND revoked_at IS NULL",
            (parts[1],),
        )
        if not rows or not hmac.compare_digest(rows[0][1], self._digest(key)):
            raise Unauthenticated("the API key is unknown or revoked")
        return Caller(parts[1], Role(rows[0][0]))
