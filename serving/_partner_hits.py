"""Partner-seizure hits found while scoring, kept for the officer and the decision log.

A model that reads the partners' seizures (``docs/EXCHANGE.md``) matches each scored parcel's
exchange tokens against the partners' indicators. Where a parcel hits, the service records
the hit for the officer's partner-hit page (with the prepared follow-up request) and an
``exchange_match`` record in the decision log, in the scoring transaction, as
``parcelscreen exchange match`` does for a manifest.
"""

from __future__ import annotations

from collections.abc import Sequence

from screening import Database
from screening.exchange import FollowUps, Hit, PartnerStore, hit_reason

from ._audit import Entry


def record_partner_hits(
    db: Database, asked: Sequence[tuple[str, str, str]], hits: Sequence[Sequence[Hit]]
) -> list[Entry]:
    """Store the hits of scored parcels ((item, request ID, caller) each, in the order of
    ``hits``) inside the caller's transaction; their decision-log records, to append."""
    if not any(hits):
        return []
    until = PartnerStore(db).valid_until()
    followups = FollowUps(db)
    entries = []
    for (item_id, request_id, caller), found in zip(asked, hits, strict=True):
        if not found:
            continue
        reason = hit_reason(found, scored=True)
        followups.record_hits(item_id, found, reason, until)
        entries.append(
            Entry(
                "exchange_match",
                request_id=request_id,
                caller=caller,
                item_id=item_id,
                detail={
                    "partners": sorted({h.source for h in found}),
                    "refs": sorted(h.ref for h in found),
                    "reason": reason,
                    "variants": {h.ref: list(h.variants) for h in found},
                },
            )
        )
    return entries
