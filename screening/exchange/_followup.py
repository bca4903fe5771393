"""Hits kept for the officer, and follow-up requests that wait for an officer's approval.

``exchange_hits``: one row per (parcel, partner indicator) matched, with the indicator's
coarse facts, the variants of the parcel's parties that matched it, the reason in words and
its ``valid_until`` (pruned with the indicator).
``exchange_requests``: a prepared SIENA-ready message naming the partner's reference; its
status is ``awaiting approval`` until an officer other than the one who prepared it approves
it (``approved``: the message may now be sent through SIENA; nothing here sends it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from .._database import Database
from .._errors import ScreeningError
from ._match import Hit, variant_words
from ._store import SCHEMA as _STORE_SCHEMA

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS exchange_hits (
        item_id TEXT NOT NULL, source TEXT NOT NULL, ref TEXT NOT NULL, month TEXT, category TEXT,
        quantity_band TEXT, reliability TEXT, accuracy TEXT, handling TEXT, role TEXT,
        kind TEXT, reason TEXT, valid_until TEXT, matched_at TEXT, variants TEXT,
        PRIMARY KEY (item_id, source, ref))""",
    """CREATE TABLE IF NOT EXISTS exchange_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL, source TEXT NOT NULL,
        ref TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, prepared_by TEXT NOT NULL,
        prepared_at TEXT NOT NULL, approved_by TEXT, approved_at TEXT)""",
)
SCHEMA_INDICATORS = _STORE_SCHEMA[0]
HANDLING_WORDS = {
    "H0": "use only to prevent and combat crime",
    "H1": "not for judicial proceedings without the provider's permission",
    "H2": "no dissemination without the provider's permission",
    "H3": "other restrictions apply (see the provider's conditions)",
}
_KIND_WORDS = {
    "name": "name and postcode",
    "address": "address",
    "name_street": "name and street",
    "phonetic_street": "name (as it sounds) and street",
    "id_number": "identification number",
}
_HIT_FIELDS = (
    "source",
    "ref",
    "month",
    "category",
    "quantity_band",
    "reliability",
    "accuracy",
    "handling",
    "role",
    "kind",
)
_COLUMNS = ("item_id", *_HIT_FIELDS, "reason", "valid_until", "matched_at", "variants")


class FollowUps:
    def __init__(self, db: Database) -> None:
        self.db = db
        for statement in SCHEMA:
            db.execute(statement)
        if "variants" not in {r[1] for r in db.execute("PRAGMA table_info(exchange_hits)")}:
            with db.transaction():  # a table from before the variants column
                if "variants" not in {r[1] for r in db.execute("PRAGMA table_info(exchange_hits)")}:
                    db.execute("ALTER TABLE exchange_hits ADD COLUMN variants TEXT")

    def record_hits(
        self,
        item_id: str,
        hits: Sequence[Hit],
        reason: str,
        valid_until: dict[tuple[str, str], str],
    ) -> None:
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as db:
            for h in hits:
                row = asdict(h)
                variants = h.variants or (f"{h.role} {h.kind.split('~')[0]}",)
                db.execute(
                    f"INSERT OR REPLACE INTO exchange_hits ({', '.join(_COLUMNS)}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item_id,
                        *(row[f] for f in _HIT_FIELDS),
                        reason,
                        valid_until.get((h.source, h.ref), "9999-12-31"),
                        now,
                        ",".join(variants),
                    ),
                )

    def hits(self, item_id: str) -> list[dict[str, Any]]:
        """One row per partner reference, ``variants`` the parties' variants that matched it
        (in words), newest month first."""
        rows = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM exchange_hits WHERE "
            "item_id = ? ORDER BY month DESC, source, ref",
            (item_id,),
        )
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            hit = dict(zip(_COLUMNS, r, strict=True))
            names = str(hit["variants"] or f"{hit['role']} {hit['kind']}").split(",")
            words = [variant_words(v) for v in names]
            key = (hit["source"], hit["ref"])
            if key in out:  # never two rows of one reference, whatever the store holds
                out[key]["variants"] += [w for w in words if w not in out[key]["variants"]]
            else:
                out[key] = {**hit, "variants": words}
        return list(out.values())

    def recorded(self, item_id: str) -> list[Hit]:
        """The item's hits as recorded when it was scored (for wording its partner reason
        again: partner, month, codes; the posting-time check was made then)."""
        rows = self.db.execute(
            f"SELECT {', '.join(_HIT_FIELDS)}, variants FROM exchange_hits WHERE item_id = ? "
            "ORDER BY source, ref",
            (item_id,),
        )
        return [
            Hit(
                **dict(zip(_HIT_FIELDS, r[:-1], strict=True)),
                known_us=0,
                variants=tuple(v for v in str(r[-1] or "").split(",") if v),
            )
            for r in rows
        ]

    def requests(self, item_id: str) -> list[dict[str, Any]]:
        cols = (
            "id",
            "item_id",
            "source",
            "ref",
            "body",
            "status",
            "prepared_by",
            "prepared_at",
            "approved_by",
            "approved_at",
        )
        rows = self.db.execute(
            f"SELECT {', '.join(cols)} FROM exchange_requests WHERE item_id = ? ORDER BY id",
            (item_id,),
        )
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def prepare(
        self, item_id: str, source: str, ref: str, officer: str, agency: str = "this agency"
    ) -> dict[str, Any]:
        found = [h for h in self.hits(item_id) if h["source"] == source and h["ref"] == ref]
        if not found:
            raise ScreeningError(f"parcel {item_id}: no hit on {source} reference {ref}")
        body = siena_body(item_id, found[0], agency)
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as db:
            open_ = db.execute(
                "SELECT id, status FROM exchange_requests WHERE item_id = ? AND source = ? AND "
                "ref = ? ORDER BY id LIMIT 1",
                (item_id, source, ref),
            )
            if open_:  # one request per partner reference: a second would ask twice
                raise ScreeningError(
                    f"parcel {item_id}: follow-up request {open_[0][0]} on {source} reference "
                    f"{ref} is already {open_[0][1]}; nothing was prepared"
                )
            ((rid,),) = db.execute(  # RETURNING: SQLite's and PostgreSQL's own, one statement
                "INSERT INTO exchange_requests (item_id, source, ref, body, status, "
                "prepared_by, prepared_at) VALUES (?, ?, ?, ?, 'awaiting approval', ?, ?) "
                "RETURNING id",
                (item_id, source, ref, body, officer, now),
            )
        return {
            "id": int(rid),
            "item_id": item_id,
            "source": source,
            "ref": ref,
            "status": "awaiting approval",
        }

    def approve(self, request_id: int, officer: str) -> dict[str, Any]:
        rows = self.db.execute(
            "SELECT item_id, source, ref, status, prepared_by FROM exchange_requests WHERE id = ?",
            (request_id,),
        )
        if not rows:
            raise ScreeningError(f"follow-up request {request_id}: no such request")
        item_id, source, ref, status, prepared_by = rows[0]
        if status != "awaiting approval":
            raise ScreeningError(f"follow-up request {request_id}: already {status}")
        if prepared_by == officer:
            raise ScreeningError(
                f"follow-up request {request_id}: prepared by {officer}; "
                "another officer must approve it (four eyes)"
            )
        self.db.execute(
            "UPDATE exchange_requests SET status = 'approved', approved_by = ?, "
            "approved_at = ? WHERE id = ?",
            (officer, datetime.now(UTC).isoformat(), request_id),
        )
        return {
            "id": request_id,
            "item_id": item_id,
            "source": source,
            "ref": ref,
            "status": "approved",
        }

    def prune(self, today: str, dry_run: bool = False) -> dict[str, int]:
        """Delete hits past their ``valid_until`` or whose partner indicator is gone (pruned
        first); the follow-up requests stay, as what was asked of a partner."""
        where = (
            "valid_until < ? OR NOT EXISTS (SELECT 1 FROM exchange_indicators AS i "
            "WHERE i.source = exchange_hits.source AND i.ref = exchange_hits.ref)"
        )
        self.db.execute(SCHEMA_INDICATORS)
        ((n,),) = self.db.execute(f"SELECT COUNT(*) FROM exchange_hits WHERE {where}", (today,))
        if not dry_run:
            self.db.execute(f"DELETE FROM exchange_hits WHERE {where}", (today,))
        return {"partner_hits": int(n)}


def siena_body(item_id: str, hit: dict[str, Any], agency: str) -> str:
    """The follow-up request's message body, ready to paste into SIENA (never sent here)."""
    kind = str(hit["kind"]).split("~")[0]
    matched = " and ".join(hit.get("variants") or []) or (
        f"the {hit['role']}'s {_KIND_WORDS.get(kind, kind)}"
    )
    handling = hit["handling"]
    return "\n".join(
        [
            f"To: the national unit of partner {hit['source']}",
            f"From: {agency}",
            f"Your reference: {hit['ref']}",
            f"Subject: request for information on your seizure reported in {hit['month']}",
            f"Handling code: {handling} ({HANDLING_WORDS.get(handling, handling)})",
            "Purpose: prevention and investigation of drug trafficking by post",
            "",
            f"Our postal item {item_id} matched your shared seizure {hit['ref']} "
            f"({hit['category']}, {hit['quantity_band']}, reliability {hit['reliability']}"
            f"{hit['accuracy']}) on {matched}.",
            "We ask for the details of the seizure behind your reference that you may share "
            "under the handling code above, to decide on the inspection of our item.",
        ]
    )
