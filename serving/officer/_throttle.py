"""Throttling of failed sign-ins, in the state database, so that every worker process of a
deployment counts against the same limits and a restart forgets nothing.

An attempt is counted as a failure before its password is checked (attempts sent together,
to any worker, cannot all pass the check first: counting and checking are one transaction
under the database's writer lock); the right password takes its own count back, with the
earlier failures of that user name from that client. Within ``window_s`` seconds:

* a client that failed ``per_client`` times is refused, whatever user name it tries;
* a user name that failed ``per_user`` times is refused to every client that has failed
  itself, but not to a client with no failure in the window. Someone who knows an officer's
  user name can therefore not lock the officer out by guessing wrong passwords from other
  addresses; a guesser who spreads over many addresses gets one guess per fresh address
  once the name is locked, and each of those addresses is then refused like the others.

The client is the connection's peer, or the client a trusted proxy names (setting
``forwarded_allow_ips``); an IPv6 client counts by its /64 network, since one host usually
has a whole /64 to choose addresses from. ``parcelscreen users unlock NAME`` removes a user
name's failures. User names and clients are stored as keyed hashes (HMAC under the server
secret): a password typed into the user-name field never reaches the disk.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable

from .._sqlite import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS officer_signin_failure (
        id INTEGER PRIMARY KEY, username TEXT NOT NULL, client TEXT NOT NULL,
        at REAL NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS officer_signin_failure_user
        ON officer_signin_failure (username, at)""",
    """CREATE INDEX IF NOT EXISTS officer_signin_failure_client
        ON officer_signin_failure (client, at)""",
    "CREATE INDEX IF NOT EXISTS officer_signin_failure_at ON officer_signin_failure (at)",
)


def client_key(host: str) -> str:
    """What a client is counted as: its IPv4 address, or its IPv6 /64 network."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class SignInThrottle:
    """Failed sign-ins in a sliding window, shared by every worker through ``db``."""

    def __init__(
        self,
        db: Database,
        secret: str,
        per_user: int = 5,
        per_client: int = 50,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._key = hmac.new(secret.encode(), b"officer-signin-throttle", hashlib.sha256).digest()
        self.per_user, self.per_client = per_user, per_client
        self.window_s, self.clock = window_s, clock
        for statement in SCHEMA:
            db.execute(statement)

    def _hash(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    def _user(self, username: str) -> str:
        return self._hash("user", username.casefold())

    def _client(self, host: str) -> str:
        return self._hash("client", client_key(host))

    def _wait(self, db: Database, user: str, client: str, now: float) -> float:
        since = now - self.window_s
        mine = [
            at
            for (at,) in db.execute(
                "SELECT at FROM officer_signin_failure WHERE client = ? AND at > ? "
                "ORDER BY at DESC LIMIT ?",
                (client, since, self.per_client),
            )
        ]
        if len(mine) >= self.per_client:
            return float(mine[-1]) + self.window_s - now
        if not mine:  # a client with no failure is not held to the user name's limit
            return 0.0
        theirs = [
            at
            for (at,) in db.execute(
                "SELECT at FROM officer_signin_failure WHERE username = ? AND at > ? "
                "ORDER BY at DESC LIMIT ?",
                (user, since, self.per_user),
            )
        ]
        if len(theirs) < self.per_user:
            return 0.0
        return float(min(theirs[-1], mine[0])) + self.window_s - now  # the name or the client clear

    def attempt(self, username: str, client: str) -> tuple[float, int | None]:
        """Admit an attempt: ``(0, ticket)``, the attempt counted as a failure until
        :meth:`succeeded`; or ``(seconds until one is allowed, None)``, counted as nothing.
        A refusal only reads; an admission is checked again and counted in one transaction."""
        now, user, client = self.clock(), self._user(username), self._client(client)
        wait = self._wait(self._db, user, client, now)
        if wait > 0:
            return wait, None
        with self._db.transaction() as db:
            wait = self._wait(db, user, client, now)
            if wait > 0:
                return wait, None
            db.execute("DELETE FROM officer_signin_failure WHERE at <= ?", (now - self.window_s,))
            (ticket,) = db.execute(
                "INSERT INTO officer_signin_failure (username, client, at) VALUES (?, ?, ?) "
                "RETURNING id",
                (user, client, now),
            )[0]
        return 0.0, int(ticket)

    def succeeded(self, username: str, client: str, ticket: int | None) -> None:
        """The right password: this attempt's count goes, and the earlier failures of this
        user name from this client (not those of other clients)."""
        self._db.execute(
            "DELETE FROM officer_signin_failure WHERE id = ? OR (username = ? AND client = ?)",
            (ticket, self._user(username), self._client(client)),
        )

    def unlock(self, username: str) -> int:
        """Remove every failure of a user name (an admin's unlock); returns how many."""
        rows = self._db.execute(
            "DELETE FROM officer_signin_failure WHERE username = ? RETURNING id",
            (self._user(username),),
        )
        return len(rows)
