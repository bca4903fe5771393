"""The sign-in throttle's arithmetic, in a state database, on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from serving import Database
from serving.officer._throttle import SignInThrottle, client_key

SECRET = "test-secret-key-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "state.sqlite")
    yield database
    database.close()


def _fail(throttle: SignInThrottle, user: str, client: str) -> None:
    wait, ticket = throttle.attempt(user, client)
    assert wait == 0 and ticket is not None


def test_a_user_name_is_refused_after_its_limit_until_the_oldest_failure_ages_out(
    db: Database,
) -> None:
    clock = Clock()
    throttle = SignInThrottle(db, SECRET, per_user=3, per_client=100, window_s=60, clock=clock)
    for step in range(3):
        _fail(throttle, "Olga", "10.0.0.1")
        clock.now += 10 * (step < 2)
    assert throttle.attempt("olga", "10.0.0.1") == (40, None)  # the first ages out at 1060
    assert throttle.attempt("ada", "10.0.0.1")[0] == 0
    clock.now += 40
    assert throttle.attempt("olga", "10.0.0.1")[0] == 0


def test_a_locked_user_name_stays_open_to_a_client_that_has_not_failed(db: Database) -> None:
    clock = Clock()
    throttle = SignInThrottle(db, SECRET, per_user=2, per_client=100, window_s=60, clock=clock)
    _fail(throttle, "olga", "10.0.0.1")
    _fail(throttle, "olga", "10.0.0.2")
    assert throttle.attempt("olga", "10.0.0.1")[0] == 60  # the guessers are refused
    wait, ticket = throttle.attempt("olga", "10.0.0.9")  # the officer at another desk is not
    assert wait == 0
    throttle.succeeded("olga", "10.0.0.9", ticket)  # the right password
    assert throttle.attempt("olga", "10.0.0.2")[0] == 60  # and the guessers still are
    assert throttle.unlock("OLGA") == 2  # an admin's unlock clears the name
    assert throttle.attempt("olga", "10.0.0.2")[0] == 0


def test_a_client_is_refused_after_its_limit_whatever_name_it_tries(db: Database) -> None:
    clock = Clock()
    throttle = SignInThrottle(db, SECRET, per_user=100, per_client=3, window_s=60, clock=clock)
    for k in range(3):
        _fail(throttle, f"user{k}", "2001:db8::1")
    assert throttle.attempt("bert", "2001:db8::ffff")[0] == 60  # the same /64
    assert throttle.attempt("bert", "2001:db8:0:1::1")[0] == 0  # another /64


def test_a_success_takes_back_its_own_count_and_the_pairs_failures(db: Database) -> None:
    throttle = SignInThrottle(db, SECRET, per_user=100, per_client=3, window_s=60, clock=Clock())
    _fail(throttle, "olga", "10.0.0.1")
    wait, ticket = throttle.attempt("olga", "10.0.0.1")
    throttle.succeeded("olga", "10.0.0.1", ticket)
    for k in range(3):  # nothing of olga's typo is left against the client
        assert throttle.attempt(f"user{k}", "10.0.0.1")[0] == 0
    assert throttle.attempt("ada", "10.0.0.1")[0] == 60


def test_names_and_clients_are_stored_as_keyed_hashes(db: Database) -> None:
    throttle = SignInThrottle(db, SECRET, clock=Clock())
    _fail(throttle, "my password 123", "10.1.2.3")
    rows = db.execute("SELECT username, client FROM officer_signin_failure")
    assert len(rows) == 1 and "password" not in str(rows) and "10.1.2.3" not in str(rows)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("10.0.0.7", "10.0.0.7"),  # IPv4 as it is
        ("2001:db8::1:2:3", "2001:db8::/64"),  # IPv6 by its /64
        ("::ffff:10.0.0.7", "10.0.0.7"),  # IPv4 mapped into IPv6
        ("-", "-"),  # no address (a Unix socket)
    ],
)
def test_client_key(host: str, key: str) -> None:
    assert client_key(host) == key
