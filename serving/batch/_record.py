"""A completed run's decisions in the record database, recorded as the service records its own.

When a run completes (``screen`` with ``BatchConfig.record``), every scored row becomes a
decision of the record database, through the same stores the HTTP service writes: its
entity-history increment, its result (score, decision and the feature vector the score was
computed from, for its explanation: the run's history and the partner-seizure inputs its
chunk kept, read back by manifest row), its officer copy and its ``decision`` record in the
hash-chained log, in one transaction per slice of rows. So the officer's worklists, the
parcel pages and ``parcelscreen state check`` see a batch-screened parcel as they see one
scored over HTTP.

The decision recorded is the run's: a parcel on the inspection list is ``inspect`` (with the
list's selection reason, probability and rank); one the policy flagged that did not fit the
capacity is ``review`` (an officer decides); any other parcel ``pass``. The row's own policy
decision stays in the log record (``policy_decision``) and in ``results.parquet``.

Idempotent per item and run: a run's decisions carry the request ID ``batch-<run ID>``, the
run ID being a digest of what the run is (manifest, model, capacity, keys); an item whose
decision of that request is in the log is skipped, so a resumed, finalised-again or repeated
run records nothing twice. The history counts each item once whatever decided it.

The halt switch (human oversight) holds for batch runs as for the service: a run that would
record in a record database whose model-based selection is halted is refused before it
scores (``check_not_halted``), and each slice reads the switch in its own transaction, so a
halt while a run screens or records stops it from recording more (``HaltedError``; what was
recorded before stays). The run's files are kept: once selection is resumed, the same command
resumes the run and records the rest, nothing twice. (The service instead decides by rules and
random control while halted; a batch run's inspection list is the model's ranking, so it is
not made at all.)

Rows are recorded in posting order within each chunk of the manifest (chunks in file order).
What the history ends up holding does not depend on the order: an entity's counts, first and
last posting time and partners are the same for any order of the same parcels.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from data_contracts import ParcelDeclaration, PostingWindow
from screening import Pseudonymiser, ScoringEngine
from screening.exchange import ExchangeInputs

from .._audit import Entry, input_key
from .._decisions import decision_entry
from .._partner_hits import record_partner_hits
from .._record import Record
from .._settings import Settings
from ..officer import ParcelRecorder, ParcelStore
from ._errors import HaltedError
from ._in_run import run_exchange, run_history, take_exchange
from ._read import iter_chunks
from ._score import with_history

log = logging.getLogger("serving.batch")

#: Rows per transaction: the service's writers wait for one slice at a time, not the run.
RECORD_ROWS = 1000
CALLER = "batch:screen"
_IDENTITY = (
    "manifest",
    "size",
    "mtime_ns",
    "bundle_hash",
    "model_version",
    "capacity",
    "random_share",
    "keys",
    "history",
)


class _Halted(Exception):
    """Selection was halted while the run recorded (its message: who, when, why)."""


def run_id(identity: dict[str, Any]) -> str:
    """The run's ID: a digest of the manifest file, the model, the capacity and the keys
    (not of when it ran, nor its output folder), so the same screening repeated is the same
    run."""
    wanted = {k: identity.get(k) for k in _IDENTITY if k != "history"}
    text = json.dumps(wanted, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunFacts:
    """What the recording needs to know of a completed run."""

    run_id: str
    manifest: Path
    chunk_rows: int
    window: PostingWindow | None
    results: Path
    capacity: str


def _listed(ranked: pa.Table) -> dict[int, tuple[int, str, float]]:
    """Row number -> (rank, selection reason, selection probability) on the inspection list."""
    return {
        int(row): (int(rank), str(sel), float(prob))
        for row, rank, sel, prob in zip(
            ranked.column("row").to_pylist(),
            ranked.column("rank").to_pylist(),
            ranked.column("selection").to_pylist(),
            ranked.column("selection_probability").to_pylist(),
            strict=True,
        )
    }


def _decision(result: dict[str, Any], listed: tuple[int, str, float] | None) -> dict[str, Any]:
    """The run's decision of one scored row (see the module's docstring)."""
    if listed is not None:
        return {
            "decision": "inspect",
            "selection_reason": listed[1],
            "selection_probability": listed[2],
        }
    flagged = result["decision"] in ("inspect", "review")
    return {
        "decision": "review" if flagged else "pass",
        "selection_reason": None,
        "selection_probability": None,
    }


def _already(record: Record, request_id: str, items: list[str]) -> set[str]:
    """Items of this slice whose decision of this run is in the log already."""
    found = record.db.execute(
        f"SELECT item_id FROM decision_log WHERE kind = 'decision' AND request_id = ? AND "
        f"item_id IN ({', '.join('?' * len(items))})",
        [request_id, *items],
    )
    return {str(r[0]) for r in found}


def halted(record: Record) -> str | None:
    """Where model-based selection is halted in ``record``: who halted it, when and why."""
    if record.state.get_flag("halted") != "1":
        return None
    last = record.db.execute(
        "SELECT time, caller, detail FROM decision_log WHERE kind = "
        "'halt' ORDER BY seq DESC LIMIT 1"
    )
    if not last:
        return "model-based selection is halted"
    when, caller, detail = last[0]
    reason = str(json.loads(detail or "{}").get("reason") or "no reason given")
    return f"model-based selection is halted (by {caller} at {when[:19]} UTC: {reason})"


def _refusal(why: str, settings: Settings, out: Path | None) -> HaltedError:
    kept = (
        f"; this run's files are kept in {out}: once selection is resumed, the same "
        "command records its decisions"
        if out
        else ""
    )
    return HaltedError(
        f"{why} in the record database {settings.record_name}: a batch run "
        f"selects by the model, so it records no decision while halted{kept}; "
        "an administrator resumes selection on the officer view's model page "
        "or with POST /v1/admin/resume"
    )


def check_not_halted(settings: Settings) -> None:
    """Refuse (HaltedError) a run whose record database has model-based selection halted."""
    record = Record(settings, must_exist=True)
    try:
        why = halted(record)
    finally:
        record.close()
    if why is not None:
        raise _refusal(why, settings, None)


def record_run(
    settings: Settings, engine: ScoringEngine, facts: RunFacts, ranked: pa.Table
) -> dict[str, Any]:
    """Record every scored row of a completed run (see the module); the counts."""
    record = Record(settings, must_exist=True)
    try:
        return _record(record, settings, engine, facts, ranked)
    except _Halted as exc:
        raise _refusal(str(exc), settings, facts.results.parent) from None
    finally:
        record.close()


def _record(
    record: Record, settings: Settings, engine: ScoringEngine, facts: RunFacts, ranked: pa.Table
) -> dict[str, Any]:
    request_id = f"batch-{facts.run_id}"
    listed = _listed(ranked)
    parcels = ParcelStore(record.db)
    recorder = ParcelRecorder(parcels, Pseudonymiser(settings.pseudonymisation_key), None)
    key = input_key(settings.pseudonymisation_key)
    names = list(engine.model.spec.names)
    recorded = skipped = 0
    for chunk in iter_chunks(facts.manifest, facts.chunk_rows, facts.window):
        if chunk.table.num_rows == 0:
            continue
        # the chunk's partner-seizure inputs as its parcels were scored (None: the model
        # reads none), for the feature vectors stored and the hits kept
        exchange = run_exchange(facts.results.parent, chunk.row_numbers)
        lo, hi = int(chunk.row_numbers.min()), int(chunk.row_numbers.max())
        results = pq.read_table(facts.results, filters=[("row", ">=", lo), ("row", "<=", hi)])
        by_row = {int(r): i for i, r in enumerate(results.column("row").to_pylist())}
        posted = chunk.table.column("posted_at").to_numpy(zero_copy_only=False)
        order = np.argsort(posted.astype("datetime64[us]"), kind="stable")
        for start in range(0, len(order), RECORD_ROWS):
            part = order[start : start + RECORD_ROWS]
            rows = chunk.row_numbers[part]
            table = chunk.table.take(pa.array(part))
            items = [str(i) for i in table.column("item_id").to_pylist()]
            done = _already(record, request_id, items)
            keep = [i for i, item in enumerate(items) if item not in done]
            skipped += len(items) - len(keep)
            keep = sorted({items[i]: i for i in reversed(keep)}.values())  # an item once
            if not keep:
                continue
            table = table.take(pa.array(keep))
            rows = rows[keep]
            inputs = None if exchange is None else take_exchange(exchange, part[keep])
            found = [by_row[int(r)] for r in rows]
            result_rows = results.take(pa.array(found)).to_pylist()
            recorded += _record_slice(
                record,
                recorder,
                engine,
                table,
                rows,
                result_rows,
                listed,
                request_id,
                key,
                names,
                facts,
                inputs,
            )
    parcels.worklists.put_run(
        {
            "run_id": facts.run_id,
            "manifest": facts.manifest.name,
            "recorded_at": _now(),
            "model_version": engine.model.version,
            "rows": recorded + skipped,
            "listed": len(listed),
            "capacity": facts.capacity,
        }
    )
    if recorded:
        record.audit.append(
            Entry(
                "batch_recorded",
                request_id=request_id,
                caller=CALLER,
                model_version=engine.model.version,
                detail={
                    "run_id": facts.run_id,
                    "manifest": facts.manifest.name,
                    "decisions": recorded,
                    "listed": len(listed),
                },
            )
        )
    log.info(
        "recorded %d decisions of run %s in %s (%d already there)",
        recorded,
        facts.run_id,
        settings.record_name,
        skipped,
    )
    return {
        "run_id": facts.run_id,
        "record_database": settings.record_name,
        "decisions_recorded": recorded,
        "already_recorded": skipped,
    }


def _record_slice(
    record: Record,
    recorder: ParcelRecorder,
    engine: ScoringEngine,
    table: pa.Table,
    rows: np.ndarray,
    results: list[dict[str, Any]],
    listed: dict[int, tuple[int, str, float]],
    request_id: str,
    key: bytes,
    names: list[str],
    facts: RunFacts,
    exchange: ExchangeInputs | None = None,
) -> int:
    """One transaction: history increments, results, officer copies, decision records (and
    the partner-seizure hits of a model that reads them, for the officer's partner-hit
    page). The feature vectors stored are those the rows were scored with: the run's history
    and the partner-seizure inputs (``exchange``) their chunks kept."""
    frame = engine.frame(table)
    history = run_history(engine, facts.results.parent, rows)  # as scored: the run's history
    scorer = with_history(engine, history)
    features = scorer.features(frame, record=True, exchange=exchange)  # records nothing
    dumps = table.to_pylist()
    declarations = [ParcelDeclaration.model_validate(d) for d in dumps]
    records = [d.model_dump(mode="json") for d in declarations]
    model = engine.model
    now = _now()
    summaries, extra, entries, stored = [], [], [], []
    for i, (result, decl) in enumerate(zip(results, declarations, strict=True)):
        if result["item_id"] != decl.item_id:
            raise ValueError(f"row {rows[i]}: results and manifest disagree on the item")
        on_list = listed.get(int(rows[i]))
        summary = {
            "item_id": decl.item_id,
            "probability": float(result["probability"]),
            "band": result["band"],
            **_decision(result, on_list),
            "model_version": result["model_version"],
            "bundle_hash": model.bundle_hash,
            "reasons": result["reasons"] or [],
            "mode": "model",
        }
        summaries.append(summary)
        extra.append({"batch_run": facts.run_id, "batch_rank": on_list[0] if on_list else None})
        stored.append(
            (decl.item_id, request_id, now, result["model_version"], summary, features[i])
        )
        entries.append(
            decision_entry(
                summary,
                records[i],
                key,
                request_id,
                CALLER,
                model.bundle_hash,
                source="batch",
                run_id=facts.run_id,
                manifest=facts.manifest.name,
                manifest_row=int(rows[i]),
                policy_decision=result["decision"],
                inspection_rank=on_list[0] if on_list else None,
            )
        )
    with record.db.transaction():
        why = halted(record)  # read in the slice's transaction, as the service reads it
        if why is not None:
            raise _Halted(why)
        record.history.observe_frame(frame)  # each item counts once, whoever decided it
        record.state.put_results(stored)
        recorder.scored(
            declarations, summaries, list(features), now, names, records=records, extra=extra
        )
        if exchange is not None:
            asked = [(d.item_id, request_id, CALLER) for d in declarations]
            entries += record_partner_hits(record.db, asked, exchange.hits)
        record.audit.append_many(entries)
    return len(summaries)


def _now() -> str:
    return datetime.now(UTC).isoformat()
