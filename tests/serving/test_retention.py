"""Retention of the state database: what outlives its period goes, what does not stays, and
a dry run counts exactly what a real one deletes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from parcelscreen.cli import main
from serving import Database, DecisionLog, prune_state
from serving import _retention as retention
from serving._audit import Entry
from serving._store import StateStore
from serving.officer._cases import CaseStore
from serving.officer._parcels import ParcelStore

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
#: Every table a prune deletes from, none deleted.
NONE = dict.fromkeys(
    (
        "scored_result",
        "officer_parcel",
        "outcome",
        "officer_claim",
        "officer_case",
        "officer_attachment",
        "officer_batch_run",
    ),
    0,
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _ago(days: float, now: datetime = NOW) -> str:
    return (now - timedelta(days=days)).isoformat()


class State:
    """A state database written through the service's own stores."""

    def __init__(self, path: Path, now: datetime = NOW) -> None:
        self.db, self.now = Database(path), now
        self.results, self.parcels = StateStore(self.db), ParcelStore(self.db)

    def scored(self, item: str, days_ago: float, officer_copy: bool = True) -> None:
        at = _ago(days_ago, self.now)
        self.results.put_results(
            [(item, "req", at, "v1", {"probability": 0.5}, np.zeros(3, dtype=np.float32))]
        )
        if officer_copy:
            self.parcels.put(
                [
                    {
                        "item_id": item,
                        "scored_at": at,
                        "scored_day": at[:10],
                        "posted_at": at,
                        "origin_country": "NL",
                        "origin_post": "NLA",
                        "destination_country": "DE",
                        "category": "gift",
                        "contents": "1 x tea",
                        "probability": 0.5,
                        "band": "high",
                        "decision": "inspect",
                        "flagged": 1,
                        "model_version": "v1",
                        "declaration": "{}",
                    }
                ]
            )
            self.parcels.db.execute(
                "INSERT INTO officer_feedback (item_id, time, officer, disagree, reason, notes) "
                "VALUES (?, ?, 'o1', 0, '', '')",
                (item, at),
            )

    def outcome(self, item: str, days_ago: float) -> None:
        at = _ago(days_ago, self.now)
        self.results.put_outcome(
            item, at, at, "req", "k1", True, {"item_id": item, "inspected": True}
        )

    def items(self, table: str) -> set[str]:
        return {item for (item,) in self.db.execute(f"SELECT item_id FROM {table}")}


@pytest.fixture
def state(tmp_path: Path) -> State:
    s = State(tmp_path / "state.sqlite")
    s.scored("old-passed", 400)  # never inspected, past 365 days: goes
    s.scored("recent-passed", 100)  # never inspected, within 365: stays
    s.scored("old-inspected", 400)  # inspected: kept for the labelled period
    s.outcome("old-inspected", 390)
    s.scored("ancient-inspected", 2000)  # inspected, past 1,825 days: goes with its outcome
    s.outcome("ancient-inspected", 1990)
    s.scored("ancient-result-only", 2000, officer_copy=False)  # no officer copy
    s.outcome("ancient-result-only", 1995)
    s.outcome("unknown-old", 1900)  # outcome of an item never scored here
    s.outcome("unknown-recent", 10)
    return s


def test_prune_deletes_what_outlived_its_period_and_keeps_the_rest(state: State) -> None:
    result = prune_state(state.db, 365, 1825, now=NOW)
    assert result["deleted"] == NONE | {"scored_result": 3, "officer_parcel": 2, "outcome": 3}
    assert state.items("scored_result") == {"recent-passed", "old-inspected"}
    assert state.items("officer_parcel") == {"recent-passed", "old-inspected"}
    assert state.items("officer_feedback") == {"recent-passed", "old-inspected"}
    assert state.items("outcome") == {"old-inspected", "unknown-recent"}
    assert result["parcel_cutoff"] == _ago(365)
    assert prune_state(state.db, 365, 1825, now=NOW)["deleted"] == NONE


def _worked_on(state: State, item: str, log: DecisionLog, run: str = "") -> None:
    """An officer claims the parcel, saves two versions of its case record and attaches a
    photo, each logged as the officer view logs it."""
    cases, lists = CaseStore(state.db), state.parcels.worklists
    lists.claim([item], "olga", "olga")
    log.append(Entry("parcel_claimed", caller="officer:olga", item_id=item, decision="olga"))
    for seal in ("BAG-1", "BAG-2"):
        case_id = cases.save(item, "NL-C-OLGA", {"seal": seal})
        log.append(
            Entry("case_record", caller="officer:olga", item_id=item, detail={"case_id": case_id})
        )
    kept = cases.attach(item, "NL-C-OLGA", "label.png", PNG)
    log.append(
        Entry(
            "case_attachment",
            caller="officer:olga",
            item_id=item,
            detail={"attachment_id": kept.id, "sha256": kept.sha256},
        )
    )
    if run:
        state.db.execute("UPDATE officer_parcel SET batch_run = ? WHERE item_id = ?", (run, item))


def test_claims_cases_and_attachments_go_with_their_parcel(state: State) -> None:
    log = DecisionLog(state.db)
    lists = state.parcels.worklists
    for run, days in (("a" * 16, 400), ("b" * 16, 100)):
        lists.put_run(
            {
                "run_id": run,
                "manifest": f"m-{run[0]}.parquet",
                "model_version": "v1",
                "recorded_at": _ago(days),
                "rows": 1,
                "listed": 1,
                "capacity": "10%",
            }
        )
    _worked_on(state, "old-passed", log, "a" * 16)  # goes at 365 days, and so does its run
    _worked_on(state, "recent-passed", log, "b" * 16)  # stays
    _worked_on(state, "old-inspected", log)  # inspected: stays for the labelled period
    _worked_on(state, "ancient-inspected", log)  # goes with its outcome
    CaseStore(state.db).save("gone-earlier", "NL-C-OLGA", {"seal": "X"})  # parcel gone before
    records = len(log.records())
    dry = prune_state(state.db, 365, 1825, now=NOW, dry_run=True)
    result = prune_state(state.db, 365, 1825, now=NOW)
    assert (
        result["deleted"]
        == dry["deleted"]
        == NONE
        | {
            "scored_result": 3,
            "officer_parcel": 2,
            "outcome": 3,
            "officer_claim": 2,
            "officer_case": 5,
            "officer_attachment": 2,
            "officer_batch_run": 1,
        }
    )
    kept = {"recent-passed", "old-inspected"}
    for table in ("officer_claim", "officer_case", "officer_attachment"):
        assert state.items(table) == kept, table
    assert [m["run_id"] for m in lists.manifests()] == ["b" * 16]
    # the decision log is not pruned here: its records of them stay, and the chain is whole
    assert len(log.records()) == records and log.verify().ok
    assert prune_state(state.db, 365, 1825, now=NOW)["deleted"] == NONE


def test_a_dry_run_counts_what_a_real_run_deletes_and_deletes_nothing(state: State) -> None:
    before = {t: state.items(t) for t in ("scored_result", "officer_parcel", "outcome")}
    dry = prune_state(state.db, 365, 1825, now=NOW, dry_run=True)
    assert {t: state.items(t) for t in before} == before
    real = prune_state(state.db, 365, 1825, now=NOW)
    assert dry["deleted"] == real["deleted"]
    assert dry["dry_run"] and not real["dry_run"]


def test_prune_pages_through_the_tables(state: State, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in range(11):
        state.scored(f"bulk-old-{k}", 500)
        state.scored(f"bulk-new-{k}", 5)
    monkeypatch.setattr(retention, "CHUNK", 3)
    result = prune_state(state.db, 365, 1825, now=NOW)
    assert result["deleted"]["scored_result"] == 14
    assert not {i for i in state.items("scored_result") if i.startswith("bulk-old")}
    assert len({i for i in state.items("scored_result") if i.startswith("bulk-new")}) == 11


def test_an_outcome_arriving_during_a_prune_keeps_its_parcel(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = retention._expired

    def then_inspected(
        db: Database, table: str, cutoffs: retention.Cutoffs, after: int
    ) -> list[int]:
        rowids = found(db, table, cutoffs, after)
        if rowids and table == "scored_result":
            state.outcome("old-passed", 0)  # between the read and the delete
        return rowids

    monkeypatch.setattr(retention, "_expired", then_inspected)
    prune_state(state.db, 365, 1825, now=NOW)
    assert "old-passed" in state.items("scored_result")
    assert "old-passed" in state.items("officer_parcel")


def test_the_command_prunes_and_records_it_in_the_decision_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    assert main(["state", "prune"]) == 2  # no state database here: an error, not a new one
    assert "no record database at" in capsys.readouterr().err
    assert not (tmp_path / "state.sqlite").exists()
    state = State(tmp_path / "state.sqlite", now=datetime.now(UTC))  # the command's clock
    state.scored("old", 40)
    state.scored("new", 1)
    state.db.close()
    assert main(["state", "prune", "--days", "30", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"]["scored_result"] == 1
    assert main(["state", "prune", "--days", "30"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["deleted"] == NONE | {"scored_result": 1, "officer_parcel": 1}
    log = DecisionLog(tmp_path / "state.sqlite")
    try:
        (record,) = log.records("retention")  # the dry run recorded nothing
        assert json.loads(record["detail"])["deleted"] == printed["deleted"]
        assert log.verify().ok
    finally:
        log.close()
    assert main(["state", "prune", "--days", "0"]) == 2


def test_history_prune_command_deletes_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from screening import History, SQLiteBackend
    from tests.screening.helpers import stream

    monkeypatch.setenv("PARCELSCREEN_DATA_DIR", str(tmp_path))
    backend = SQLiteBackend(tmp_path / "state.sqlite")  # the record database's history tables
    History(backend).observe_frame(stream([(0.0, "Old Sender", "1 Old St")]))  # 2026-03-02
    backend.close()
    assert main(["history", "prune", "--days", "36500", "--dry-run"]) == 0  # a century: none
    assert json.loads(capsys.readouterr().out)["deleted"]["items"] == 0
    assert main(["history", "prune", "--days", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["deleted"]["items"] == 1 and printed["deleted"]["entities"] == 6
    log = DecisionLog(tmp_path / "state.sqlite")
    try:
        (record,) = log.records("history_retention")
        assert json.loads(record["detail"])["deleted"] == printed["deleted"]
    finally:
        log.close()
