"""The history features, each declared once: which entity, which statistic of it, its group.

A statistic is computed per row (one entity's :class:`EntityStats` as of one parcel's time:
``History.features`` and ``observe``) and per column (the same fields as arrays, one row per
parcel: ``History.snapshot_features``); both forms of each statistic stand side by side in
:data:`STATS`, and every feature is evaluated through them in declaration order, so the row
and column paths cannot list different features. A test holds the two forms equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .._declare import DeclarationError, Feature, declared
from ._backend import KINDS, EntityStats

DAY_US = 86_400_000_000
#: The fields of :class:`EntityStats`, the columns the column path reads.
STATS_FIELDS = ("parcels", "first_us", "last_us", "seizures", "clean", "partners")
Columns = Mapping[str, np.ndarray]
_NAN = float("nan")


def _days_col(c: Columns, now: np.ndarray, field: str) -> np.ndarray:
    out = np.full(len(now), np.nan)
    known = c["parcels"] != 0
    out[known] = (now[known] - c[field][known]) / DAY_US
    return out


def _share_col(c: Columns, now: np.ndarray) -> np.ndarray:
    inspected = c["seizures"] + c["clean"]
    out = np.full(len(now), np.nan)
    np.divide(c["seizures"], inspected, out=out, where=inspected != 0)
    return out


def _share_row(s: EntityStats, now: int) -> float:
    inspected = s.seizures + s.clean
    return s.seizures / inspected if inspected else _NAN


@dataclass(frozen=True, slots=True)
class Stat:
    """One statistic of an entity, per row and per column."""

    row: Callable[[EntityStats, int], float]
    column: Callable[[Columns, np.ndarray], np.ndarray]


STATS: dict[str, Stat] = {
    "parcels": Stat(lambda s, now: s.parcels, lambda c, now: c["parcels"]),
    "seizures": Stat(lambda s, now: s.seizures, lambda c, now: c["seizures"]),
    "clean": Stat(lambda s, now: s.clean, lambda c, now: c["clean"]),
    "partners": Stat(lambda s, now: s.partners, lambda c, now: c["partners"]),
    "days_since_last": Stat(
        lambda s, now: (now - s.last_us) / DAY_US if s.parcels else _NAN,
        lambda c, now: _days_col(c, now, "last_us"),
    ),
    "age_days": Stat(
        lambda s, now: (now - s.first_us) / DAY_US if s.parcels else _NAN,
        lambda c, now: _days_col(c, now, "first_us"),
    ),
    "inspections": Stat(
        lambda s, now: s.seizures + s.clean, lambda c, now: c["seizures"] + c["clean"]
    ),
    "seizure_share": Stat(_share_row, _share_col),
}


#: The words of each statistic ({the}: the entity; {partner}: its counterpart's kind).
STAT_WORDS: dict[str, str] = {
    "parcels": "earlier parcels of {the}",
    "seizures": "earlier seizures of {the}",
    "clean": "earlier clean inspections of {the}",
    "partners": "different {partner}s of {the}",
    "days_since_last": "days since the last parcel of {the}",
    "age_days": "days since the first parcel of {the}",
    "inspections": "earlier inspections of parcels of {the}",
    "seizure_share": "share of the inspections of parcels of {the} that found drugs",
}
ENTITY_WORDS: dict[str, str] = {
    "sender": "the sender",
    "sender_address": "the sender's address",
    "recipient": "the recipient",
    "recipient_address": "the recipient's address",
    "pair": "the sender and recipient together",
    "office": "the posting office",
}


@dataclass(frozen=True, slots=True)
class HistoryFeature(Feature):
    """A history feature: one statistic (:data:`STATS`) of one entity kind (``KINDS``)."""

    entity: str
    stat: str

    def __post_init__(self) -> None:
        Feature.__post_init__(self)
        if self.entity not in KINDS or self.stat not in STATS:
            raise DeclarationError(
                f"feature {self.name}: no entity {self.entity!r} or statistic {self.stat!r}"
            )


def _h(name: str, entity: str, stat: str, kind: str = "growing") -> HistoryFeature:
    """A history feature of the entity's own officer group, worded from its statistic."""
    words = STAT_WORDS[stat].format(the=ENTITY_WORDS[entity], partner=KINDS[entity])
    return HistoryFeature(name, kind, f"{entity}_history", words, entity, stat)


HISTORY: tuple[HistoryFeature, ...] = declared(
    [
        _h("sender_prev_parcels", "sender", "parcels"),
        _h("sender_days_since_last", "sender", "days_since_last"),
        _h("sender_age_days", "sender", "age_days"),
        _h("sender_prev_seizures", "sender", "seizures"),
        _h("sender_prev_clean", "sender", "clean"),
        _h("sender_distinct_recipients", "sender", "partners"),
        _h("sender_address_prev_parcels", "sender_address", "parcels"),
        _h("sender_address_distinct_senders", "sender_address", "partners"),
        _h("sender_address_prev_seizures", "sender_address", "seizures"),
        _h("recipient_prev_parcels", "recipient", "parcels"),
        _h("recipient_days_since_last", "recipient", "days_since_last"),
        _h("recipient_prev_seizures", "recipient", "seizures"),
        _h("recipient_distinct_senders", "recipient", "partners"),
        _h("recipient_address_prev_parcels", "recipient_address", "parcels"),
        _h("recipient_address_distinct_senders", "recipient_address", "partners"),
        _h("recipient_address_prev_seizures", "recipient_address", "seizures"),
        _h("pair_prev_parcels", "pair", "parcels"),
        _h("office_prev_parcels", "office", "parcels"),
        _h("office_prev_inspections", "office", "inspections"),
        _h("office_seizure_share", "office", "seizure_share", kind="share"),
    ]
)

HISTORY_FEATURES: tuple[str, ...] = tuple(feature.name for feature in HISTORY)
#: (entity kind, row form) of each history feature, in order (the row path's loop).
_ROWS = tuple((feature.entity, STATS[feature.stat].row) for feature in HISTORY)
_EMPTY = EntityStats()


def row_features(found: Mapping[str, EntityStats | None], now_us: int) -> list[float]:
    """The history features of one parcel from its entities' stats as of ``now_us``."""
    return [row(found[entity] or _EMPTY, now_us) for entity, row in _ROWS]


def column_features(stats: Mapping[str, Columns], now_us: np.ndarray) -> np.ndarray:
    """The history features of many parcels from stats columns (one row per parcel)."""
    n = len(now_us)
    columns = [STATS[f.stat].column(stats[f.entity], now_us) for f in HISTORY]
    return np.column_stack(columns).astype(np.float64).reshape(n, len(HISTORY))
