"""Plain-dict records for tests: one valid declaration and outcome, changed per case."""

from __future__ import annotations

import copy
from typing import Any

_DECLARATION: dict[str, Any] = {
    "contract_version": "1",
    "item_id": "RR123456785NL",
    "posted_at": "2026-03-02T09:15:00+01:00",
    "origin_post": "NL-AMS-1",
    "origin_country": "NL",
    "destination_country": "US",
    "sender": {
        "name": "Jan de Vries",
        "street": "Damrak 1",
        "city": "Amsterdam",
        "postcode": "1012 LG",
        "country": "NL",
        "email": "jan@example.nl",
    },
    "recipient": {
        "name": "Mary Smith",
        "street": "12 Oak St",
        "city": "Springfield",
        "postcode": "62701",
        "country": "US",
    },
    "category": "gift",
    "gross_weight_kg": 0.35,
    "declared_value": 12.5,
    "currency": "EUR",
    "postal_charges": 4.2,
    "lines": [
        {
            "description": "green tea",
            "quantity": 2,
            "net_weight_kg": 0.2,
            "value": 10.0,
            "hs_code": "090220",
            "origin_country": "CN",
        },
        {
            "description": "greeting card",
            "quantity": 1,
            "net_weight_kg": 0.05,
            "value": 2.5,
            "hs_code": "490900",
        },
    ],
}

_OUTCOME: dict[str, Any] = {
    "contract_version": "1",
    "item_id": "RR123456785NL",
    "recorded_at": "2026-03-09T14:00:00+00:00",
    "inspected": True,
    "selection_reason": "random_control",
    "selection_probability": 0.003,
    "result": "seized",
    "substance": "ecstasy",
    "quantity_g": 25.0,
    "officer_ref": "NL-C-0042",
}


def declaration(**changes: Any) -> dict[str, Any]:
    """A valid declaration with top-level fields replaced; nested paths via dotted keys."""
    record = copy.deepcopy(_DECLARATION)
    for key, value in changes.items():
        target: Any = record
        *parents, last = key.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return record


def outcome(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(_OUTCOME) | changes
