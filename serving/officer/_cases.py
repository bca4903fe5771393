"""The case record of an opened parcel: seal or bag number, concealment, substance with its
gross and net weight, laboratory reference, notes and photos, kept with the record.

Case records are append-only like outcomes: each save is a new version (who, when), the
latest is the one shown and printed. Photos and scans are stored in the record database with
their name, checked type (by their first bytes, not by what the browser says), size and
SHA-256; the decision log records each save and each attachment by hash, never the content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .._sqlite import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS officer_case (
        id INTEGER PRIMARY KEY, item_id TEXT NOT NULL, time TEXT NOT NULL,
        officer TEXT NOT NULL, record TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS officer_case_item ON officer_case (item_id)",
    """CREATE TABLE IF NOT EXISTS officer_attachment (
        id INTEGER PRIMARY KEY, item_id TEXT NOT NULL, time TEXT NOT NULL,
        officer TEXT NOT NULL, name TEXT NOT NULL, media_type TEXT NOT NULL,
        size INTEGER NOT NULL, sha256 TEXT NOT NULL, data BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS officer_attachment_item ON officer_attachment (item_id)",
)

#: Substances an officer picks from (codes stored; words in ``_text``); "other" asks for text.
SUBSTANCES = (
    "cannabis",
    "cocaine",
    "heroin",
    "mdma",
    "amphetamine",
    "methamphetamine",
    "ketamine",
    "lsd",
    "psilocybin",
    "benzodiazepines",
    "opioid_medicines",
    "new_psychoactive",
    "other",
)
CONCEALMENTS = (
    "none",
    "inside_goods",
    "vacuum_sealed",
    "packaging",
    "documents",
    "media_case",
    "food_cosmetics",
    "other",
)
#: Case record fields and their longest text.
FIELDS = {
    "seal": 40,
    "concealment": 40,
    "concealment_other": 200,
    "substance": 40,
    "substance_other": 60,
    "gross_g": 20,
    "net_g": 20,
    "lab_ref": 60,
    "notes": 2000,
}
#: Accepted attachment types, told by their first bytes.
MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
MAX_ATTACHMENT = 1_500_000  # bytes; the request body limit (MAX_BODY_BYTES) caps it too


class CaseError(ValueError):
    """A case record or attachment that cannot be kept (the message is for the officer)."""


class CaseTooLong(CaseError):
    """A case field longer than it may be: refused, never cut (the officer shortens it)."""

    def __init__(self, field: str, limit: int, length: int) -> None:
        super().__init__("too_long")
        self.field, self.limit, self.length = field, limit, length


def media_type(data: bytes) -> str | None:
    for magic, kind in MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _weight(text: str, field: str) -> float | None:
    text = text.strip().replace(" ", "")
    if not text:
        return None
    if text.count(",") == 1 and "." not in text and len(text.split(",")[1]) != 3:
        text = text.replace(",", ".")  # a decimal comma
    try:
        value = float(text)
    except ValueError:
        raise CaseError(field) from None
    if not 0 <= value <= 1_000_000:
        raise CaseError(field)
    return value


def case_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The case record a form describes; CaseError names the first bad field."""
    record: dict[str, Any] = {k: form.get(k, "").strip() for k in FIELDS}
    for name, limit in FIELDS.items():
        if len(record[name]) > limit:
            raise CaseTooLong(name, limit, len(record[name]))
    if record["substance"] and record["substance"] not in SUBSTANCES:
        raise CaseError("substance")
    if record["concealment"] and record["concealment"] not in CONCEALMENTS:
        raise CaseError("concealment")
    if record["substance"] == "other" and not record["substance_other"]:
        raise CaseError("substance_other")
    for name in ("gross_g", "net_g"):
        record[name] = _weight(record[name], name)
    if (
        record["gross_g"] is not None
        and record["net_g"] is not None
        and record["net_g"] > record["gross_g"]
    ):
        raise CaseError("net_over_gross")
    return record


def substance_text(record: dict[str, Any], names: dict[str, str]) -> str | None:
    """The substance as the outcome records it (words, at most 60 characters)."""
    code = record.get("substance") or ""
    if not code:
        return None
    text = record.get("substance_other") if code == "other" else names.get(code, code)
    return (text or "")[:60] or None


@dataclass(frozen=True)
class Attachment:
    id: int
    item_id: str
    time: str
    officer: str
    name: str
    media_type: str
    size: int
    sha256: str


class CaseStore:
    """Case records (append-only versions) and attachments in the record database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        for statement in SCHEMA:
            db.execute(statement)

    def save(self, item_id: str, officer: str, record: dict[str, Any]) -> int:
        ((case_id,),) = self.db.execute(
            "INSERT INTO officer_case (item_id, time, officer, record) VALUES (?, ?, ?, ?) "
            "RETURNING id",
            (item_id, _now(), officer, json.dumps(record, sort_keys=True)),
        )
        return int(case_id)

    def latest(self, item_id: str) -> dict[str, Any] | None:
        rows = self.db.execute(
            "SELECT id, time, officer, record FROM officer_case WHERE "
            "item_id = ? ORDER BY id DESC LIMIT 1",
            (item_id,),
        )
        if not rows:
            return None
        case_id, time, officer, record = rows[0]
        found: dict[str, Any] = json.loads(record)
        return found | {"case_id": case_id, "time": time, "officer": officer}

    def versions(self, item_id: str) -> int:
        return int(
            self.db.execute("SELECT count(*) FROM officer_case WHERE item_id = ?", (item_id,))[0][0]
        )

    def attach(
        self, item_id: str, officer: str, name: str, data: bytes, limit: int = MAX_ATTACHMENT
    ) -> Attachment:
        """Keep a photo or scan; CaseError for an empty, too large or unknown file."""
        if not data:
            raise CaseError("attachment_empty")
        if len(data) > limit:
            raise CaseError("attachment_size")
        kind = media_type(data)
        if kind is None:
            raise CaseError("attachment_type")
        clean = "".join(c for c in name if c.isprintable() and c not in '/\\"')[-100:]
        digest = hashlib.sha256(data).hexdigest()
        ((att_id, time),) = self.db.execute(
            "INSERT INTO officer_attachment (item_id, time, officer, name, media_type, size, "
            "sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, time",
            (item_id, _now(), officer, clean or "attachment", kind, len(data), digest, data),
        )
        return Attachment(
            int(att_id), item_id, time, officer, clean or "attachment", kind, len(data), digest
        )

    def attachments(self, item_id: str) -> list[Attachment]:
        rows = self.db.execute(
            "SELECT id, item_id, time, officer, name, media_type, size, "
            "sha256 FROM officer_attachment WHERE item_id = ? ORDER BY id",
            (item_id,),
        )
        return [Attachment(*r) for r in rows]

    def attachment(self, item_id: str, att_id: int) -> tuple[Attachment, bytes] | None:
        rows = self.db.execute(
            "SELECT id, item_id, time, officer, name, media_type, size, "
            "sha256, data FROM officer_attachment WHERE item_id = ? AND "
            "id = ?",
            (item_id, att_id),
        )
        if not rows:
            return None
        *meta, data = rows[0]
        return Attachment(*meta), bytes(data)


def _now() -> str:
    return datetime.now(UTC).isoformat()
