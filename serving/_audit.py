"""The decision log: append-only, hash-chained, one record per decision, outcome and action.

Each record's hash is SHA-256 over the previous record's hash and the record's canonical JSON,
so editing or deleting any record breaks the chain at that point, and ``verify`` names it.
The head (last sequence number and hash) is also kept in a separate table, so cutting records
off the end is caught too; and outside the database, in its head anchor (``state.sqlite.head``
beside it: JSON with ``seq`` and ``hash``, replaced atomically), which the service keeps
current (``serving._health.AnchorKeeper``, once a second) and every export carries. A log
whose head is behind its anchor (records cut off, an older copy restored, or the file deleted
and started again from genesis) fails ``verify`` and stops the service from starting, until
an operator records the override in the log (``parcelscreen audit reanchor``). Someone who
rewrites the tail, the head and the anchor file is not caught: keep exports (or the anchor)
elsewhere for that.

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
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from screening import PostgresDatabase, StoreUnavailable, write_json_atomic

from ._sqlite import Database

GENESIS = "0" * 64
#: The head as an append reads it (on PostgreSQL, with the writer lock: no round trip of its own).
HEAD = "SELECT seq, hash FROM decision_log_head WHERE id = 1"
#: The head anchor's file: the database's path with this added.
ANCHOR_SUFFIX = ".head"
FIELDS = (
    "seq",
    "time",
    "kind",
    "request_id",
    "caller",
    "item_id",
    "model_version",
    "bundle_hash",
    "input_hash",
    "score",
    "decision",
    "detail",
    "prev_hash",
)
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS decision_log (
        seq INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT,
        caller TEXT, item_id TEXT, model_version TEXT, bundle_hash TEXT, input_hash TEXT,
        score REAL, decision TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS decision_log_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL,
        anchor_seq INTEGER NOT NULL, anchor_hash TEXT NOT NULL)""",
    # the replay lookup (input_hashes) by request ID and item; made on open where missing,
    # so an older file gets it too (PostgreSQL: serving/migrations/0006_*.sql)
    "CREATE INDEX IF NOT EXISTS decision_log_request ON decision_log (request_id, item_id)",
    # a parcel's records (its page, one "viewed" record an hour, a resumed batch run): also
    # made on open (PostgreSQL: serving/migrations/0007_*.sql)
    "CREATE INDEX IF NOT EXISTS decision_log_item ON decision_log (item_id)",
)


def canonical_json(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, no NaN): what hashes are taken over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


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
    #: The head anchor as read (None: the log has none yet).
    anchor: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "anchor": self.anchor,
            "problems": self.problems,
        }


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
        self._anchored: tuple[int, str] | None = None  # what this process last wrote there
        if isinstance(self.db, PostgresDatabase):
            self.db.read_with_lock(HEAD, "decision_log_head")

    def append_many(self, entries: list[Entry], now: datetime | None = None) -> list[int]:
        """Append records in one transaction; returns their sequence numbers."""
        stamp = (now or datetime.now(UTC)).isoformat()
        seqs, rows = [], []
        with self.db.transaction() as db:
            head = self.db.read_early(HEAD) if isinstance(self.db, PostgresDatabase) else None
            ((seq, prev),) = head if head is not None else db.execute(HEAD)
            for entry in entries:
                seq += 1
                record = {
                    "seq": seq,
                    "time": stamp,
                    "kind": entry.kind,
                    "request_id": entry.request_id,
                    "caller": entry.caller,
                    "item_id": entry.item_id,
                    "model_version": entry.model_version,
                    "bundle_hash": entry.bundle_hash,
                    "input_hash": entry.input_hash,
                    "score": entry.score,
                    "decision": entry.decision,
                    "detail": canonical_json(entry.detail),
                    "prev_hash": prev,
                }
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

    def input_hashes(self, request_id: str, item_ids: list[str]) -> dict[str, str]:
        """The input hash of the latest decision under ``request_id`` of each of these items
        that has one (a retry's declaration is held against the one decided)."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = self.db.execute(
                "SELECT item_id, input_hash FROM decision_log WHERE kind = 'decision' AND "
                f"request_id = ? AND item_id IN ({', '.join('?' * len(part))}) ORDER BY seq",
                [request_id, *part],
            )
            found.update((item, digest) for item, digest in rows if digest)
        return found

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(FIELDS)}, hash FROM decision_log"
        rows = self.db.execute(
            sql + (" WHERE kind = ?" if kind else "") + " ORDER BY seq", (kind,) if kind else ()
        )
        return [dict(zip((*FIELDS, "hash"), row, strict=True)) for row in rows]

    def _readable_records(self, problems: list[str]) -> list[dict[str, Any]]:
        """Every record; where the file holds text that is not UTF-8 (garbage in a page that
        still parses), the text is read as bytes and each damaged record is named."""
        try:
            return self.records()
        except StoreUnavailable:
            pass
        names = (*FIELDS, "hash")
        columns = ", ".join(
            f"CASE WHEN typeof({n}) = 'text' THEN CAST({n} AS BLOB) ELSE {n} END" for n in names
        )
        out = []
        for row in self.db.execute(f"SELECT {columns} FROM decision_log ORDER BY seq"):
            record, bad = {}, False
            for name, value in zip(names, row, strict=True):
                if isinstance(value, bytes):
                    try:
                        value = value.decode()
                    except UnicodeDecodeError:
                        value, bad = value.decode(errors="replace"), True
                record[name] = value
            if bad:
                problems.append(
                    f"record {record['seq']}: damaged (text that is not UTF-8: garbage in the file)"
                )
            out.append(record)
        return out

    def verify(self) -> VerifyReport:
        """Recompute the chain; name every record that was edited, deleted, cut off or
        damaged, and a head behind the head anchor."""
        problems: list[str] = []
        anchor_problem = self.anchor_problem()  # the anchor first: the head only moves on
        try:
            anchor = self.read_anchor()
        except ValueError:
            anchor = None
        ((head_seq, head_hash, anchor_seq, anchor_hash),) = self.db.execute(
            "SELECT seq, hash, anchor_seq, anchor_hash FROM decision_log_head WHERE id = 1"
        )
        rows = self._readable_records(problems)
        checkpoints = [r for r in rows if r["kind"] == "checkpoint"]
        if checkpoints:
            try:
                detail = json.loads(checkpoints[-1]["detail"])
            except ValueError:
                detail = {}
            if not isinstance(detail, dict):
                detail = {}
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
                missing = (
                    f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
                )
                problems.append(f"record(s) {missing} deleted (chain jumps to {seq})")
            if not isinstance(seq, int):
                problems.append(
                    f"a record after {expected_seq - 1}: damaged (its sequence number is {seq!r})"
                )
                continue
            if row["prev_hash"] != prev:
                problems.append(f"record {seq}: previous hash does not match record {seq - 1}")
            try:
                edited = record_hash(row) != row["hash"]
            except (TypeError, ValueError):  # a value of a type no record holds
                edited = True
            if edited:
                problems.append(f"record {seq}: content edited (hash does not match)")
            expected_seq, prev = seq + 1, row["hash"]
        last_seq = rows[-1]["seq"] if rows else anchor_seq
        if last_seq != head_seq or prev != head_hash:
            problems.append(
                f"the log ends at record {last_seq} but the head says {head_seq}: "
                "records at the end were deleted or the head was changed"
            )
        if anchor_problem is not None:
            problems.append(anchor_problem)
        return VerifyReport(not problems, len(rows), head_seq, head_hash, problems, anchor)

    # -- the head anchor, outside the database --------------------------------------------

    @property
    def anchor_path(self) -> Path | None:
        """The head anchor's file (None for a database in memory)."""
        path = str(self.db.path)
        return None if path in ("", ":memory:") else Path(path + ANCHOR_SUFFIX)

    def head(self) -> tuple[int, str]:
        """The sequence number and hash of the last record (0 and GENESIS: none yet)."""
        ((seq, hash_),) = self.db.execute("SELECT seq, hash FROM decision_log_head WHERE id = 1")
        return int(seq), str(hash_)

    def read_anchor(self) -> dict[str, Any] | None:
        """The head anchor (``seq``, ``hash``, ``updated_at``), None where there is none yet;
        ValueError naming the file where it cannot be read."""
        path = self.anchor_path
        if path is None:
            return None
        try:
            anchor = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"the head anchor {path} cannot be read ({exc})") from None
        if not (
            isinstance(anchor, dict)
            and isinstance(anchor.get("seq"), int)
            and isinstance(anchor.get("hash"), str)
        ):
            raise ValueError(f"the head anchor {path} is not an anchor (seq and hash)")
        return anchor

    def anchor_problem(self) -> str | None:
        """Why the log does not extend its head anchor (records the anchor knew of are gone
        or differ), or None. The anchor is read before the head, which only moves on."""
        try:
            anchor = self.read_anchor()
        except ValueError as exc:
            return str(exc)
        if anchor is None:
            return None
        seq, hash_ = anchor["seq"], anchor["hash"]
        ((head_seq, pruned_seq, pruned_hash),) = self.db.execute(
            "SELECT seq, anchor_seq, anchor_hash FROM decision_log_head WHERE id = 1"
        )
        where = (
            f"its head anchor {self.anchor_path} (written "
            f"{anchor.get('updated_at', 'at an unknown time')}) says {seq}"
        )
        if head_seq < seq:
            how = (
                "the log was deleted or replaced and started again from genesis"
                if head_seq == 0
                else f"records {head_seq + 1} to {seq} were cut off, or "
                "an older copy was put in its place"
            )
            return f"the decision log ends at record {head_seq} but {where}: {how}"
        if seq == 0:
            return None
        found = self.db.execute("SELECT hash FROM decision_log WHERE seq = ?", (seq,))
        if found:
            held = found[0][0]
        elif seq == pruned_seq:
            held = pruned_hash
        elif seq < pruned_seq:
            return None  # pruned since: the checkpoint carries the chain on
        else:
            return f"record {seq} is missing from the decision log, and {where}"
        if held != hash_:
            return (
                f"record {seq} of the decision log is not the one {where}: the log was "
                "replaced or rewritten"
            )
        return None

    def write_anchor(self, force: bool = False) -> bool:
        """Write the head to the anchor (atomically) if it moved on from what this process
        last wrote; never over an anchor the log does not extend, unless ``force``. True if
        written."""
        path = self.anchor_path
        if path is None:
            return False
        if not force and self.head() == self._anchored:
            return False
        if not force and self.anchor_problem() is not None:
            return False
        seq, hash_ = self.head()
        write_json_atomic(
            path,
            {
                "seq": seq,
                "hash": hash_,
                "database": self.db.path.name,
                "updated_at": datetime.now(UTC).isoformat(),
            },
        )
        self._anchored = seq, hash_
        return True

    def reanchor(self, reason: str, caller: str = "cli") -> dict[str, Any]:
        """An operator's override of a log behind its anchor (a restore from a backup): an
        ``anchor_override`` record naming the old anchor, the problem and the reason, then
        the anchor moved to the new head."""
        try:
            old: dict[str, Any] | None = self.read_anchor()
        except ValueError as exc:
            old = {"unreadable": str(exc)}
        detail = {
            "reason": reason,
            "problem": self.anchor_problem(),
            "anchor": old,
            "head": dict(zip(("seq", "hash"), self.head(), strict=True)),
        }
        seq = self.append(Entry("anchor_override", caller=caller, detail=detail))
        self.write_anchor(force=True)
        return detail | {"override_seq": seq}

    def export(self, out: Path) -> dict[str, Any]:
        """Write the log to ``out`` as JSON Lines: a first line with the head and the head
        anchor, then every record; written to a temporary file and renamed."""
        anchor_problem = self.anchor_problem()
        try:
            anchor = self.read_anchor()
        except ValueError:
            anchor = None
        seq, hash_ = self.head()
        rows = self.records()
        header = {
            "decision_log_export": {
                "database": str(self.db.path),
                "exported_at": datetime.now(UTC).isoformat(),
                "head": {"seq": seq, "hash": hash_},
                "anchor": anchor,
                "anchor_problem": anchor_problem,
                "records": len(rows),
            }
        }
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(canonical_json(header) + "\n")
            for row in rows:
                f.write(canonical_json(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
        return header["decision_log_export"]

    def prune(
        self, retention_days: float, caller: str = "cli", now: datetime | None = None
    ) -> dict[str, Any]:
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
            (count,) = db.execute("SELECT COUNT(*) FROM decision_log WHERE seq <= ?", (last_seq,))[
                0
            ]
            db.execute("DELETE FROM decision_log WHERE seq <= ?", (last_seq,))
            db.execute(
                "UPDATE decision_log_head SET anchor_seq = ?, anchor_hash = ? WHERE id = 1",
                (last_seq, last_hash),
            )
            detail = {
                "anchor_seq": last_seq,
                "anchor_hash": last_hash,
                "pruned": count,
                "cutoff": cutoff,
                "retention_days": retention_days,
            }
            self.append(Entry("checkpoint", caller=caller, detail=detail), now)
        return detail

    def close(self) -> None:
        if self._owned:
            self.db.close()
