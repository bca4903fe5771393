"""Exchange bundles: a folder of ``indicators.json``, ``stix.json`` and ``misp.json``, a
``manifest.json`` naming sender, addressee, purpose, sharing group, ``valid_until`` and each
file's SHA-256, and ``manifest.sig`` (Ed25519 over the manifest's exact bytes).

Reading checks, in order, and refuses naming why: each file is within its size bound and
readable (JSON nested too deep, or not JSON, is a refusal, never a traceback); the sender is
a known partner; the signature is that partner's; every file matches its hash; the bundle is
addressed to this agency; its purpose is one this agency accepts from that partner; it was
not made in the future and has not expired; every indicator is sound (``_intake``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from .._errors import ScreeningError
from ..bundles import Ed25519PrivateKey, Ed25519PublicKey, key_id, write_json_atomic
from ._formats import misp_event, stix_bundle
from ._intake import IntakeRefused, partner_indicators
from ._records import Indicator

FILES = ("indicators.json", "stix.json", "misp.json")
_MAX_BYTES = 64 * 1024 * 1024
#: the most bytes read of each file (a bundle's files are never read whole before this)
MAX_BYTES = {
    "manifest.json": 64 * 1024,
    "manifest.sig": 4 * 1024,
    **{name: _MAX_BYTES for name in FILES},
}


_SKEW = timedelta(minutes=5)  # clocks of two agencies may differ by this much


class ExchangeRefused(ScreeningError):
    """An exchange bundle that is not imported, and why."""


@dataclass
class Partner:
    code: str
    keys: tuple[Ed25519PublicKey, ...]
    purposes: tuple[str, ...]


def write_exchange_bundle(
    out: Path,
    indicators: Sequence[Indicator],
    *,
    agency: str,
    partner: str,
    purpose: str,
    sharing_group: str,
    valid_until: str,
    created: str,
    key: Ed25519PrivateKey,
) -> dict[str, Any]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=False)
    docs = {
        "indicators.json": [i.as_dict() for i in indicators],
        "stix.json": stix_bundle(indicators, agency, created),
        "misp.json": misp_event(indicators, agency, created, sharing_group),
    }
    hashes = {}
    for name, doc in docs.items():
        data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
        (out / name).write_bytes(data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    manifest = {
        "format": "parcelscreen-exchange/1",
        "from": agency,
        "to": partner,
        "purpose": purpose,
        "sharing_group": sharing_group,
        "created": created,
        "valid_until": valid_until,
        "indicators": len(indicators),
        "files": hashes,
    }
    raw = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    (out / "manifest.json").write_bytes(raw)
    write_json_atomic(
        out / "manifest.sig",
        {
            "algorithm": "ed25519",
            "key_id": key_id(key.public_key()),
            "signature": base64.b64encode(key.sign(raw)).decode(),
        },
    )
    return manifest


def _read(path: Path, where: str) -> bytes:
    limit = MAX_BYTES[path.name]
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        why = exc.strerror or exc
        raise ExchangeRefused(f"{where}: {path.name} is unreadable: {why}") from None
    if len(data) > limit:
        raise ExchangeRefused(f"{where}: {path.name} is larger than {limit} bytes")
    return data


def _json(data: bytes, name: str, where: str) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        raise ExchangeRefused(f"{where}: {name} is nested too deeply to read") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise ExchangeRefused(f"{where}: {name} is not JSON: {exc}") from None


def read_exchange_bundle(
    folder: Path,
    *,
    agency: str,
    partners: Mapping[str, Partner],
    today: date,
    epochs: Mapping[str, str],
    now: datetime | None = None,
) -> tuple[dict[str, Any], list[Indicator]]:
    """The manifest and the indicators of a bundle, or :class:`ExchangeRefused` naming why.

    ``epochs``: the epochs live at this agency's custodians, name -> last valid day."""
    folder = Path(folder)
    where = f"exchange bundle {folder}"
    raw = _read(folder / "manifest.json", where)
    manifest = _json(raw, "manifest.json", where)
    try:
        sender, to, purpose = str(manifest["from"]), str(manifest["to"]), manifest["purpose"]
        valid_until = date.fromisoformat(manifest["valid_until"])
        created = datetime.fromisoformat(manifest["created"])
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ExchangeRefused(f"{where}: manifest.json is malformed: {exc!r}") from None
    partner = partners.get(sender)
    if partner is None:
        raise ExchangeRefused(
            f"{where}: unknown partner {sender!r} (known: {', '.join(sorted(partners)) or 'none'})"
        )
    try:
        sig = _json(_read(folder / "manifest.sig", where), "manifest.sig", where)
        signature = base64.b64decode(sig["signature"], validate=True)
        signer = str(sig["key_id"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ExchangeRefused(f"{where}: manifest.sig is missing or malformed: {exc!r}") from None
    keys = {key_id(k): k for k in partner.keys}
    if signer not in keys:
        raise ExchangeRefused(
            f"{where}: wrong signature: signed by key {signer}, which is not partner {sender}'s"
        )
    try:
        keys[signer].verify(signature, raw)
    except InvalidSignature:
        raise ExchangeRefused(
            f"{where}: wrong signature: manifest.sig does not match "
            "manifest.json (altered in transit?)"
        ) from None
    if set(files) != set(FILES):
        raise ExchangeRefused(f"{where}: the manifest lists {sorted(files)}, not {list(FILES)}")
    docs = {}
    for name in FILES:
        data = _read(folder / name, where)
        if hashlib.sha256(data).hexdigest() != files[name]:
            raise ExchangeRefused(f"{where}: {name} does not match its hash in the manifest")
        docs[name] = data
    if to != agency:
        raise ExchangeRefused(f"{where}: addressed to {to!r}, not to this agency ({agency})")
    if purpose not in partner.purposes:
        raise ExchangeRefused(
            f"{where}: wrong purpose {purpose!r}: accepted from {sender} only "
            f"for {', '.join(partner.purposes)}"
        )
    if valid_until < today:
        raise ExchangeRefused(f"{where}: expired on {valid_until.isoformat()}")
    if created.tzinfo is None or created > (now or datetime.now(UTC)) + _SKEW:
        raise ExchangeRefused(f"{where}: manifest.json: field created: not a UTC time before now")
    rows = _json(docs["indicators.json"], "indicators.json", where)
    if not isinstance(rows, list):
        raise ExchangeRefused(f"{where}: indicators.json is not a list")
    try:
        indicators = partner_indicators(
            rows, where=where, sender=sender, manifest=manifest, epochs=epochs, today=today
        )
    except IntakeRefused as exc:
        raise ExchangeRefused(str(exc)) from None
    return manifest, indicators
