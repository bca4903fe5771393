"""The partner-seizure features, each declared once (their values: ``exchange._match``).

A model reads them only where it was trained with partners' indicators in the store (its
spec's names end with :data:`EXCHANGE_FEATURES`); every one is 0 without a hit and rises
with the evidence, so training holds each to a monotone (+1) constraint: a partner's
seizure can only raise a score. They are computed from exchange tokens matched point in time
against the partners' indicators (``screening.exchange``), never from the entity history.
"""

from __future__ import annotations

from ._declare import Feature, declared

#: The officer group of every partner-seizure feature.
GROUP = "partner_seizures"

EXCHANGE: tuple[Feature, ...] = declared(
    [
        Feature("exchange_hit", "flag", GROUP, "a party matches a seizure reported by a partner"),
        Feature("exchange_partners", "count", GROUP, "partners whose seizures a party matches"),
        Feature(
            "exchange_freshness",
            "ratio",
            GROUP,
            "how recently the newest matching seizure was shared (30 / (30 + days))",
        ),
        Feature(
            "exchange_reliability",
            "amount",
            GROUP,
            "best reliability of the matching seizures' sources (A 3, B 2, C 1, X 0.5)",
        ),
        Feature(
            "exchange_address_hit",
            "flag",
            GROUP,
            "an address (not only a name) matches a seizure reported by a partner",
        ),
    ]
)
EXCHANGE_FEATURES: tuple[str, ...] = tuple(feature.name for feature in EXCHANGE)
#: +1: the score may only rise with the feature (XGBoost ``monotone_constraints``).
EXCHANGE_MONOTONE: dict[str, int] = {name: 1 for name in EXCHANGE_FEATURES}
