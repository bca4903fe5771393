"""The decision log: append-only, hash-chained, one record per decision, outcome and action.

Each record's hash is SHA-256 over the previous record's hash and the record's canonical JSON,
so editing or deleting any record breaks the chain at that point, and ``verify`` names it.
The head (last sequence number and hash) is also kept in a separate table, so cutting records
off the end is caught too (an attacker who rewrites both the tail and the head is not: anchor
the head elsewhere, e.g. print it to an external log, for that).

Retention: ``prune`` deletes the records older than the retention period (a prefix of the
chain) and appends a ``checkpoint`` record naming the last pruned sequence number and hash;
``verify`` then starts the chain from that anchor. Names and addresses never enter the log:
only the item ID, a keyed hash of the declaration (``input_hash``), scores, decisions and
reasons. The hash is keyed so that someone who holds the log and guesses a declaration cannot
confirm the guess; whoever holds the pseudonymisation key can (``parcelscreen audit
input-hash``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ._sqlite import Database

GENESIS = "0" * 64
FIELDS = ("seq", "time", "kind", "request_id", "caller", "item_id", "model_version",
          "bundle_hash", "input_hash", "score", "decision", "detail", "prev_hash")  # fmt: skip
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS decision_log (
        seq INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT,
        caller TEXT, item_id TEXT, model_version TEXT, bundle_hash TEXT, input_hash TEXT,
        score REAL, decision TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS decision_log_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL,
        anchor_seq INTEGER NOT NULL, anchor_hash TEXT NOT NULL)""",
)


def canonical_json(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, no NaN): what hashes are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)  # fmt: skip


def input_key(pseudonymisation_key: str) -> bytes:
    """The key of the log's input hashes, derived from the pseudonymisation key (which the
    service, training and auditors with access to clear declarations already share)."""
    return hmac.new(pseudonymisation_key.encode(), b"decision-log-input", hashlib.sha256).digest()


def input_hash(record: Any, key: bytes) -> str:
    """HMAC-SHA256 of the canonical JSON of a record as validated (``model_dump(mode="json")``)."""
    return hmac.new(key, canonical_json(record).encode(), hashlib.sha256).hexdigest()


def record_hash(record: Mapping[str, Any]) -> str:
    body = {name: record[name] for name in FIELDS}
    return hashlib.sha256((record["prev_hash"] + canonical_json(body)).encode()).hexdigest()


@dataclass
class Entry:
    """One record to append (sequence, time and hashes are filled in by the log)."""

    kind: str
    request_id: str | None = None
    caller: str | None = None
    item_id: str | None = None
    model_version: str | None = None
    bundle_hash: str | None = None
    input_hash: str | None = None
    score: float | None = None
    decision: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerifyReport:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "problems": self.problems}  # fmt: skip


class DecisionLog:
    """The hash-chained log: tables of the record database (its appends join the caller's
    transaction, so a decision and its record commit together), or of a file of its own."""

    def __init__(self, store: Path | str | Database, background_checkpoints: bool = False) -> None:
        if isinstance(store, Database):
            self.db, self._owned = store, False
            for statement in SCHEMA:
                store.execute(statement)
        else:
            self.db, self._owned = Database(store, SCHEMA, background_checkpoints), True
        self.db.execute(
            "INSERT OR IGNORE INTO decision_log_head (id, seq, hash, anchor_seq, anchor_hash) "
            "VALUES (1, 0, ?, 0, ?)",
            (GENESIS, GENESIS),
        )

    def append_many(self, entries: list[Entry], now: datetime | None = None) -> list[int]:
        """Append records in one transaction; returns their sequence numbers."""
        stamp = (now or datetime.now(UTC)).isoformat()
        seqs, rows = [], []
        with self.db.transaction() as db:
            ((seq, prev),) = db.execute("SELECT seq, hash FROM decision_log_head WHERE id = 1")
            for entry in entries:
                seq += 1
                record = {
                    "seq": seq, "time": stamp, "kind": entry.kind,
                    "request_id": entry.request_id, "caller": entry.caller,
                    "item_id": entry.item_id, "model_version": entry.model_version,
                    "bundle_hash": entry.bundle_hash, "input_hash": entry.input_hash,
                    "score": entry.score, "decision": entry.decision,
                    "detail": canonical_json(entry.detail), "prev_hash": prev,
                }  # fmt: skip
                prev = record_hash(record)
                rows.append([record[name] for name in FIELDS] + [prev])
                seqs.append(seq)
            db.executemany(
                f"INSERT INTO decision_log ({', '.join(FIELDS)}, hash) "
                f"VALUES ({', '.join('?' * (len(FIELDS) + 1))})",
                rows,
            )
            db.execute("UPDATE decision_log_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
        return seqs

    def append(self, entry: Entry, now: datetime | None = None) -> int:
        return self.append_many([entry], now)[0]

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(FIELDS)}, hash FROM decision_log"
        rows = self.db.execute(sql + (" WHERE kind = ?" if kind else "") + " ORDER BY seq",
                               (kind,) if kind else ())  # fmt: skip
        return [dict(zip((*FIELDS, "hash"), row, strict=True)) for row in rows]

    def verify(self) -> VerifyReport:
        """Recompute the chain; name every record that was edited, deleted or cut off."""
        problems: list[str] = []
        ((head_seq, head_hash, anchor_seq, anchor_hash),) = self.db.execute(
            "SELECT seq, hash, anchor_seq, anchor_hash FROM decision_log_head WHERE id = 1"
        )
        rows = self.records()
        checkpoints = [r for r in rows if r["kind"] == "checkpoint"]
        if checkpoints:
            detail = json.loads(checkpoints[-1]["detail"])
            if (detail.get("anchor_seq"), detail.get("anchor_hash")) != (anchor_seq, anchor_hash):
                problems.append(
                    f"the prune anchor (seq {anchor_seq}) differs from the last checkpoint record "
                    f"(seq {checkpoints[-1]['seq']})"
                )
        elif (anchor_seq, anchor_hash) != (0, GENESIS):
            problems.append("the prune anchor was changed but no checkpoint record exists")
        expected_seq, prev = anchor_seq + 1, anchor_hash
        for row in rows:
            seq = row["seq"]
            if seq != expected_seq:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else \
                    f"{expected_seq}-{seq - 1}"  # fmt: skip
                problems.append(f"record(s) {missing} deleted (chain jumps to {seq})")
            if row["prev_hash"] != prev:
                problems.append(f"record {seq}: previous hash does not match record {seq - 1}")
            if record_hash(row) != row["hash"]:
                problems.append(f"record {seq}: content edited (hash does not match)")
            expected_seq, prev = seq + 1, row["hash"]
        last_seq = rows[-1]["seq"] if rows else anchor_seq
        if last_seq != head_seq or prev != head_hash:
            problems.append(
                f"the log ends at record {last_seq} but the head says {head_seq}: "
                "records at the end were deleted or the head was changed"
            )
        return VerifyReport(not problems, len(rows), head_seq, head_hash, problems)

    def prune(self, retention_days: float, caller: str = "cli",
              now: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """Delete records older than the retention period; record a checkpoint in the chain."""
        now = now or datetime.now(UTC)
        cutoff = (now - timedelta(days=retention_days)).isoformat()
        with self.db.transaction() as db:
            old = db.execute(
                "SELECT seq, hash FROM decision_log WHERE time < ? ORDER BY seq DESC LIMIT 1",
                (cutoff,),
            )
            if not old:
                return {"pruned": 0, "cutoff": cutoff}
            last_seq, last_hash = old[0]
            (count,) = db.execute("SELECT COUNT(*) FROM decision_log WHERE seq <= ?",
                                  (last_seq,))[0]  # fmt: skip
            db.execute("DELETE FROM decision_log WHERE seq <= ?", (last_seq,))
            db.execute("UPDATE decision_log_head SET anchor_seq = ?, anchor_hash = ? WHERE id = 1",
                       (last_seq, last_hash))  # fmt: skip
            detail = {"anchor_seq": last_seq, "anchor_hash": last_hash, "pruned": count,
                      "cutoff": cutoff, "retention_days": retention_days}  # fmt: skip
            self.append(Entry("checkpoint", caller=caller, detail=detail), now)
        return detail

    def close(self) -> None:
        if self._owned:
            self.db.close()
