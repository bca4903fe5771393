"""``parcelscreen users``: only roles that can sign in, reset, enable and role change, each
logged; and no record database made where none is configured."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from parcelscreen.cli import main
from serving import Database
from serving.officer import UserStore

PASSWORD = "a long enough secret"


def _users(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        return main(["users", *argv])
    except SystemExit as exc:  # argparse's refusal
        return int(exc.code or 0)


def test_a_command_run_from_another_folder_makes_no_empty_record_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PARCELSCREEN_DATA_DIR", raising=False)
    monkeypatch.delenv("PARCELSCREEN_STATE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert _users(["add", "otto", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 2
    error = capsys.readouterr().err
    assert "no record database at runs/serving/state.sqlite" in error
    assert str(tmp_path) in error and "PARCELSCREEN_DATA_DIR" in error
    assert not (tmp_path / "runs").exists()
    assert main(["keys", "create", "--role", "officer"]) == 2  # the same for keys
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("name", "password", "problem"),
    [
        ("otto", "short\n", "at least 10 characters"),  # a password too short
        ("  ", PASSWORD + "\n", "1 to 60 printable characters"),  # a blank user name
    ],
)
def test_a_refused_account_creates_no_record_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    password: str,
    problem: str,
) -> None:
    folder = tmp_path / "new"
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(folder))  # named: a new one could start
    assert _users(["add", name, "--password-stdin"], monkeypatch, password) == 2
    assert problem in capsys.readouterr().err
    assert not folder.exists() or not any(folder.iterdir())


def test_accounts_are_added_reset_enabled_and_given_roles_and_each_change_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))  # named: a new one may start
    assert _users(["add", "otto", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 0
    # a sorter could never sign in to the officer view: not offered
    assert (
        _users(["add", "sam", "--role", "sorter", "--password-stdin"], monkeypatch, PASSWORD + "\n")
        == 2
    )
    assert "invalid choice: 'sorter'" in capsys.readouterr().err
    db = Database(tmp_path / "state.sqlite")
    store = UserStore(db)
    user = store.check("otto", PASSWORD)
    assert user is not None
    _, session = store.open_session(user, __import__("datetime").timedelta(hours=1))
    assert _users(["reset", "otto", "--password-stdin"], monkeypatch, "another long secret\n") == 0
    assert store.check("otto", PASSWORD) is None
    assert store.check("otto", "another long secret") is not None
    assert not db.execute("SELECT 1 FROM officer_session WHERE username = 'otto'")
    assert _users(["role", "otto", "admin"], monkeypatch) == 0
    assert store.check("otto", "another long secret").role.value == "admin"  # type: ignore[union-attr]
    assert _users(["disable", "otto"], monkeypatch) == 0
    assert store.check("otto", "another long secret") is None
    assert _users(["enable", "otto"], monkeypatch) == 0
    assert store.check("otto", "another long secret") is not None
    assert _users(["enable", "otto"], monkeypatch) == 1  # not disabled: nothing to enable
    assert _users(["reset", "nobody", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 1
    assert _users(["reset", "otto", "--password-stdin"], monkeypatch, "short\n") == 2
    kinds = [r[0] for r in db.execute("SELECT kind FROM decision_log ORDER BY seq")]
    assert kinds == [
        "officer_account_add",
        "officer_account_reset",
        "officer_account_role",
        "officer_account_disable",
        "officer_account_enable",
    ]
    details = " ".join(r[0] for r in db.execute("SELECT detail FROM decision_log"))
    assert PASSWORD not in details and "another long secret" not in details
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert listed == {"username": "otto", "enabled": True}
    db.close()


def test_no_terminal_and_no_password_stdin_is_a_clear_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    try:  # run from a terminal, the test pretends there is none (as under cron or CI)
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        monkeypatch.setattr("parcelscreen._users_cmd._terminal", lambda: False)
    except OSError:
        pass  # none here: the real thing
    for argv in (["add", "otto"], ["reset", "otto"]):
        assert _users(argv, monkeypatch) == 2
        err = capsys.readouterr().err
        assert "error: no terminal to ask for a password; use --password-stdin" in err, err
        assert "Traceback" not in err
    db = Database(tmp_path / "state.sqlite")
    assert UserStore(db).list() == []  # no account without a password
    db.close()
