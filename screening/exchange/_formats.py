"""The same indicators as STIX 2.1 (a bundle of indicators) and as a MISP event.

STIX: one ``identity`` (the exporting agency, by its exchange code only), one
``extension-definition`` (a top-level property extension naming the coarse facts), and per
seizure an ``indicator`` whose pattern is the OR of its tokens (``x-exchange-token:value``),
with ``valid_from`` (its month), ``valid_until`` and the TLP:AMBER+STRICT marking. MISP: one
event whose attributes are the tokens (type ``text``, category ``Other``, ``to_ids``), grouped
per seizure in an object, with the facts as tags (``europol:reliability="B"``...), the sharing
group and distribution 4 (sharing group only).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from ._records import Indicator

_NS = uuid.UUID("3c9f1c5e-6e0a-4a8f-9d55-0d1e3f2b7a10")
TLP_AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
_FACTS = (
    "month",
    "category",
    "quantity_band",
    "reliability",
    "accuracy",
    "handling",
    "purpose",
    "sharing_group",
    "ref",
)


def _id(kind: str, *parts: str) -> str:
    """A STIX identifier: random (UUIDv4, as STIX 2.1 asks of domain objects), never derived
    from an item or a token; ``parts`` name what it identifies, for the reader only."""
    del parts
    return f"{kind}--{uuid.uuid4()}"


def stix_bundle(indicators: Sequence[Indicator], agency: str, created: str) -> dict[str, Any]:
    """A STIX 2.1 bundle; ``created`` is an RFC 3339 time (``...Z``)."""
    stable = hashlib.sha256(f"parcelscreen-agency|{agency}".encode()).digest()[:16]
    identity = f"identity--{uuid.UUID(bytes=stable, version=4)}"  # the same for each export
    extension = "extension-definition--8a0f5d4e-3c3b-4d0b-9e57-6f0c2a61c1b2"
    objects: list[dict[str, Any]] = [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": identity,
            "created": created,
            "modified": created,
            "name": agency,
            "identity_class": "organization",
        },
        {
            "type": "extension-definition",
            "spec_version": "2.1",
            "id": extension,
            "created": created,
            "modified": created,
            "created_by_ref": identity,
            "name": "parcelscreen seizure exchange",
            "version": "1.0.0",
            "description": "Coarse facts of a shared seizure: month, substance category, quantity "
            "band, Europol reliability and accuracy, SIENA handling code, purpose, "
            "sharing group, opaque reference.",
            "schema": "https://example.invalid/parcelscreen/exchange-extension-1.json",
            "extension_types": ["toplevel-property-extension"],
            "extension_properties": [f"exchange_{name}" for name in _FACTS],
        },
    ]
    for ind in indicators:
        pattern = " OR ".join(f"[x-exchange-token:value = '{t['token']}']" for t in ind.tokens)
        obj = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": _id("indicator", agency, ind.ref),
            "created": created,
            "modified": created,
            "created_by_ref": identity,
            "name": f"Seizure {ind.ref}",
            "description": "A seizure shared for hit/no-hit matching on exchange tokens.",
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": f"{ind.month}-01T00:00:00Z",
            "valid_until": f"{ind.valid_until}T23:59:59Z",
            "object_marking_refs": [TLP_AMBER_STRICT],
            "extensions": {extension: {"extension_type": "toplevel-property-extension"}},
        }
        obj.update({f"exchange_{name}": getattr(ind, name) for name in _FACTS})
        objects.append(obj)
    return {"type": "bundle", "id": _id("bundle", agency, created), "objects": objects}


def misp_event(
    indicators: Sequence[Indicator], agency: str, created: str, sharing_group: str
) -> dict[str, Any]:
    """A MISP event (the JSON ``{"Event": ...}`` form that MISP imports)."""
    objects = []
    for ind in indicators:
        attributes = [
            {
                "type": "text",
                "category": "Other",
                "to_ids": True,
                "object_relation": f"{t['role']}-{t['kind']}",
                "value": t["token"],
                "uuid": str(uuid.uuid5(_NS, t["token"] + ind.ref)),
            }
            for t in ind.tokens
        ]
        objects.append(
            {
                "name": "parcelscreen-seizure",
                "meta-category": "misc",
                "uuid": str(uuid.uuid5(_NS, agency + ind.ref)),
                "Attribute": attributes,
                "comment": "",
                "distribution": "4",
                "Tag": [{"name": tag} for tag in _tags(ind)],
            }
        )
    return {
        "Event": {
            "uuid": str(uuid.uuid5(_NS, agency + created)),
            "info": f"Seizures shared by {agency}",
            "date": created[:10],
            "analysis": "2",
            "threat_level_id": "2",
            "distribution": "4",
            "SharingGroup": {"name": sharing_group},
            "Orgc": {"name": agency},
            "Tag": [{"name": "tlp:amber+strict"}],
            "Object": objects,
        }
    }


def _tags(ind: Indicator) -> list[str]:
    return [
        f'europol:reliability="{ind.reliability}"',
        f'europol:accuracy="{ind.accuracy}"',
        f'siena:handling-code="{ind.handling}"',
        f'parcelscreen:month="{ind.month}"',
        f'parcelscreen:category="{ind.category}"',
        f'parcelscreen:quantity-band="{ind.quantity_band}"',
        f'parcelscreen:purpose="{ind.purpose}"',
        f'parcelscreen:ref="{ind.ref}"',
        f'parcelscreen:valid-until="{ind.valid_until}"',
    ]
