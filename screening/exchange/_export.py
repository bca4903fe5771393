"""The agency's seizures as indicators: tokens of their parties, coarse facts, no clear text."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ._records import Indicator, quantity_band, substance_category
from ._tokens import Tokeniser, party_tokens


def opaque_ref(agency: str, item_id: str, key: bytes) -> str:
    """``agency:24 hex``: a keyed hash of the item ID only the exporting agency can resolve."""
    digest = hmac.new(key, b"exchange-ref\x1f" + item_id.encode(), hashlib.sha256).hexdigest()
    return f"{agency}:{digest[:24]}"


def seizure_indicators(
    declarations: Sequence[Mapping[str, Any]],
    seizures: Mapping[str, Mapping[str, Any]],
    *,
    client: Tokeniser,
    epoch: str,
    agency: str,
    ref_key: bytes,
    reliability: str,
    accuracy: str,
    handling: str,
    purpose: str,
    sharing_group: str,
    valid_until: str,
) -> list[Indicator]:
    """An indicator per seized declaration that has at least one token.

    ``seizures`` maps item ID -> the seizure outcome (``recorded_at`` as datetime or
    microseconds, ``substance``, ``quantity_g``)."""
    seized = [d for d in declarations if d["item_id"] in seizures]
    tokens = party_tokens(client, seized, epoch)
    out = []
    for decl, toks in zip(seized, tokens, strict=True):
        if not toks:
            continue
        outcome = seizures[decl["item_id"]]
        when = outcome["recorded_at"]
        if not isinstance(when, datetime):
            when = datetime.fromtimestamp(int(when) / 1e6, UTC)
        indicator = Indicator(
            ref=opaque_ref(agency, str(decl["item_id"]), ref_key),
            tokens=toks,
            month=when.strftime("%Y-%m"),
            category=substance_category(outcome.get("substance")),
            quantity_band=quantity_band(outcome.get("quantity_g")),
            reliability=reliability,
            accuracy=accuracy,
            handling=handling,
            purpose=purpose,
            sharing_group=sharing_group,
            valid_until=valid_until,
            source=agency,
        )
        indicator.check(f"seizure {decl['item_id']}")
        out.append(indicator)
    return out
