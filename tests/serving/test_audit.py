"""The hash-chained decision log: verify catches edited, deleted and cut-off records."""

from __future__ import annotations

import argparse
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from parcelscreen import _audit_cmd
from serving import DecisionLog, Entry
from serving._audit import SCHEMA

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _log(path: Path, n: int = 6) -> DecisionLog:
    log = DecisionLog(path)
    for i in range(n):
        log.append(
            Entry(
                "decision",
                request_id=f"r{i}",
                caller="k1",
                item_id=f"I{i}",
                score=i / 10,
                decision="pass",
                detail={"i": i},
            ),
            now=T0 + timedelta(days=i),
        )
    return log


def _sql(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(statement)


def test_an_intact_log_verifies(tmp_path: Path) -> None:
    report = _log(tmp_path / "a.sqlite").verify()
    assert report.ok and report.records == 6 and report.head_seq == 6


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("UPDATE decision_log SET score = 0.99 WHERE seq = 3", "record 3: content edited"),
        ("UPDATE decision_log SET decision = 'inspect' WHERE seq = 1", "record 1: content edited"),
        ("DELETE FROM decision_log WHERE seq = 4", "record(s) 4 deleted"),
        ("DELETE FROM decision_log WHERE seq IN (2, 3)", "record(s) 2-3 deleted"),
        ("DELETE FROM decision_log WHERE seq = 6", "the log ends at record 5"),
        ("DELETE FROM decision_log WHERE seq = 1", "record(s) 1 deleted"),
    ],
)
def test_tampering_is_named(tmp_path: Path, statement: str, expected: str) -> None:
    log = _log(tmp_path / "a.sqlite")
    log.close()
    _sql(tmp_path / "a.sqlite", statement)
    report = DecisionLog(tmp_path / "a.sqlite").verify()
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


def test_prune_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.sqlite")
    result = log.prune(retention_days=3, now=T0 + timedelta(days=6))
    assert result["pruned"] == 3 and result["anchor_seq"] == 3
    report = log.verify()
    assert report.ok, report.problems
    kinds = [r["kind"] for r in log.records()]
    assert kinds == ["decision"] * 3 + ["checkpoint"]
    log.close()
    _sql(tmp_path / "a.sqlite", "UPDATE decision_log_head SET anchor_seq = 4")
    assert not DecisionLog(tmp_path / "a.sqlite").verify().ok


def test_cli_verify_exits_1_on_tampering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.sqlite"
    _log(path).close()
    monkeypatch.setenv("PARCELSCREEN_STATE_DB", str(path))
    assert _audit_cmd.run(argparse.Namespace(audit_command="verify")) == 0
    _sql(path, "UPDATE decision_log SET caller = 'someone-else' WHERE seq = 2")
    assert _audit_cmd.run(argparse.Namespace(audit_command="verify")) == 1
    assert "record 2: content edited" in capsys.readouterr().out


def replay_lookup(
    log: DecisionLog, monkeypatch: pytest.MonkeyPatch, request_id: str, items: list[str]
) -> tuple[dict[str, str], str, list[Any]]:
    """What ``input_hashes`` (the replay lookup) answers, and the one statement it ran."""
    ran: list[tuple[str, list[Any]]] = []
    execute = log.db.execute

    def spy(sql: str, params: Any = ()) -> Any:
        ran.append((sql, list(params)))
        return execute(sql, params)

    monkeypatch.setattr(log.db, "execute", spy)
    found = log.input_hashes(request_id, items)
    monkeypatch.setattr(log.db, "execute", execute)
    assert len(ran) == 1, ran
    return found, *ran[0]


def test_a_replay_is_looked_up_by_request_and_item_not_over_the_whole_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of a release before the index gets it on open (every open, idempotently), and
    the lookup of a retried request's input hashes searches it instead of scanning the log."""
    path = tmp_path / "audit.sqlite"
    with sqlite3.connect(path) as conn:  # the tables as an older release made them
        for statement in SCHEMA:
            if "CREATE TABLE" in statement:
                conn.execute(statement)
    conn.close()
    DecisionLog(path).close()
    log = DecisionLog(path)  # a second open: the index is there already
    for n in range(200):
        log.append(Entry("decision", request_id=f"r{n // 4}", item_id=f"I{n}", input_hash=f"h{n}"))
    log.append(Entry("decision", request_id="r7", item_id="I29", input_hash="again"))
    indexes = log.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decision_log'"
    )
    assert ("decision_log_request",) in indexes
    found, sql, params = replay_lookup(log, monkeypatch, "r7", ["I28", "I29", "I40"])
    assert found == {"I28": "h28", "I29": "again"}  # the latest decision of each, none of r10
    plan = " | ".join(str(row[-1]) for row in log.db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "USING INDEX decision_log_request" in plan and "SCAN decision_log" not in plan, plan
    log.close()
