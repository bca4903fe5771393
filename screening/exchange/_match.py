"""Matching a parcel's exchange tokens against partners' seizures, as of its posting time.

A partner indicator counts for a parcel posted at ``t`` only if it was known here by ``t``
(``known_us``: when it was imported, or in a backtest when the partner's seizure became
shareable) and ``t`` is not past its ``valid_until``: a backtest never sees a seizure before
it was shared. Matching is exact on tokens. The features rise with the evidence and are 0
without a hit, so the model can hold them to monotone (non-decreasing) constraints: a partner
hit can only raise a score.

What two parties share makes a match only as :func:`match_supported` says: any variant but a
postcode less one character (``name~i``, see ``_variants``) suffices, and those only where
they show one typo, never two postcodes two edits apart.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np

from .._partner import EXCHANGE_FEATURES
from ._records import Indicator

RELIABILITY_SCORE = {"A": 3.0, "B": 2.0, "C": 1.0, "X": 0.5}
_DAY_US = 86_400_000_000
_ADDRESS_KINDS = ("address", "name_street", "phonetic_street")


def _dropped(kind: str) -> int | None:
    """i of a ``name~i`` variant (the postcode less its i-th character), None for any other."""
    base, sep, position = kind.partition("~")
    return int(position) if sep and base == "name" and position.isdigit() else None


def match_supported(pairs: Iterable[tuple[str, str]]) -> bool:
    """Whether the tokens two parties share make a match; ``pairs``: (one party's variant
    kind, the other's) of each token they share (False for none).

    Any shared variant suffices but the postcode less one character (``name~i``): a party
    with only a name and a postcode shares one of those with the same name at every postcode
    two edits away (5351 and 1551 both give 551), and common names then match different
    people. Two such variants count only where they show one typo: the same character
    dropped on both sides (one changed), or one side's whole postcode (one missing or extra,
    kind ``name`` against ``name~i``), or both (i, i+1) and (i+1, i) (two neighbours
    swapped)."""
    shifted: set[tuple[int, int]] = set()
    for mine, theirs in pairs:
        a, b = _dropped(mine), _dropped(theirs)
        if a is None or b is None or a == b:
            return True
        shifted.add((a, b))
    return any(abs(a - b) == 1 and (b, a) in shifted for a, b in shifted)


def _supporting(shared: Sequence[tuple[str, Hit]]) -> list[Hit]:
    """The indicator's variants, among one party's ``shared`` tokens (the parcel's kind, the
    indicator's hit), that make a match: each one that does alone, and the ``name~i`` ones
    that do only together (a swap)."""
    alone = [hit for kind, hit in shared if match_supported([(kind, hit.kind)])]
    together = [(kind, hit) for kind, hit in shared if not match_supported([(kind, hit.kind)])]
    if together and match_supported((kind, hit.kind) for kind, hit in together):
        alone.extend(hit for _, hit in together)
    return alone


@dataclass(frozen=True)
class Hit:
    """One partner indicator that a parcel's token matched."""

    source: str
    ref: str
    month: str
    category: str
    quantity_band: str
    reliability: str
    accuracy: str
    handling: str
    role: str
    kind: str
    known_us: int
    #: every variant of the parcel's parties that matched this indicator, as "role kind"
    variants: tuple[str, ...] = ()


def _until_us(valid_until: str) -> int:
    end = datetime.combine(
        date.fromisoformat(valid_until) + timedelta(days=1), datetime.min.time(), UTC
    )
    return int(end.timestamp() * 1_000_000)


class PartnerIndex:
    """Token -> the partner indicators that carry it, each with when it is usable."""

    def __init__(self) -> None:
        self._by_token: dict[str, list[tuple[int, int, Hit]]] = defaultdict(list)
        self._refs: set[tuple[str, str]] = set()

    @property
    def indicators(self) -> int:
        """How many partner indicators (distinct source and reference) the index holds."""
        return len(self._refs)

    def add(self, indicator: Indicator, known_us: int) -> None:
        self._refs.add((indicator.source, indicator.ref))
        until = _until_us(indicator.valid_until)
        for t in indicator.tokens:
            hit = Hit(
                indicator.source,
                indicator.ref,
                indicator.month,
                indicator.category,
                indicator.quantity_band,
                indicator.reliability,
                indicator.accuracy,
                indicator.handling,
                t["role"],
                t["kind"],
                known_us,
            )
            bisect.insort(
                self._by_token[t["token"]], (known_us, until, hit), key=lambda row: row[0]
            )

    def __len__(self) -> int:
        return len(self._by_token)

    def hits(self, tokens: Iterable[tuple[str, str]], at_us: int) -> list[Hit]:
        """Distinct indicators matched by a parcel's ``tokens`` (each with the kind of the
        parcel's variant it came from), known by and valid at ``at_us``, where the variants
        shared make a match (:func:`match_supported`): one hit per partner reference, naming
        every variant that matched it."""
        shared: dict[tuple[str, str, str], list[tuple[str, Hit]]] = defaultdict(list)
        for token, kind in tokens:
            for known, until, hit in self._by_token.get(token, ()):
                if known > at_us:
                    break
                if at_us < until:
                    shared[(hit.source, hit.ref, hit.role)].append((kind, hit))
        kept: dict[tuple[str, str], list[Hit]] = defaultdict(list)
        for (source, ref, _), rows in shared.items():
            kept[(source, ref)].extend(_supporting(rows))
        out = []
        for found in kept.values():
            if found:
                best = next((h for h in found if h.kind == "address"), found[0])
                variants = {f"{h.role} {h.kind.split('~')[0]}" for h in found}
                out.append(replace(best, variants=tuple(sorted(variants))))
        return out


def hit_features(hits: Sequence[Hit], at_us: int) -> list[float]:
    """The EXCHANGE_FEATURES of one parcel's hits (all 0 without a hit)."""
    if not hits:
        return [0.0] * len(EXCHANGE_FEATURES)
    newest = max(h.known_us for h in hits)
    days = max(0.0, (at_us - newest) / _DAY_US)
    return [
        1.0,
        float(len({h.source for h in hits})),
        30.0 / (30.0 + days),
        max(RELIABILITY_SCORE.get(h.reliability, 0.0) for h in hits),
        float(any(h.kind in _ADDRESS_KINDS for h in hits)),
    ]


def exchange_matrix(
    index: PartnerIndex, tokens: Sequence[Sequence[tuple[str, str]]], posted_us: np.ndarray
) -> tuple[np.ndarray, list[list[Hit]]]:
    """(n, len(EXCHANGE_FEATURES)) features and each parcel's hits; ``tokens``: each
    parcel's (token, variant kind) pairs."""
    hits = [index.hits(t, int(at)) for t, at in zip(tokens, posted_us, strict=True)]
    rows = [hit_features(h, int(at)) for h, at in zip(hits, posted_us, strict=True)]
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(EXCHANGE_FEATURES))
    return matrix, hits


_KIND_WORDS = {
    "name": "name and postcode",
    "address": "address",
    "name_street": "name and street",
    "phonetic_street": "name (as it sounds) and street",
    "id_number": "identification number",
}


def variant_words(variant: str) -> str:
    """``"recipient address"`` -> ``"the recipient's address"``."""
    role, _, kind = variant.partition(" ")
    kind = kind.split("~")[0]
    return f"the {role}'s {_KIND_WORDS.get(kind, kind)}"


def hit_fact(hits: Sequence[Hit]) -> tuple[str, int]:
    """The strongest hit as a fact of the reason words (``explain``): which party's variant
    matched, the partner, the month and the reliability and accuracy codes; +1, its usual
    reading is a risk."""
    best = max(hits, key=lambda h: (RELIABILITY_SCORE.get(h.reliability, 0), h.month))
    kind = best.kind.split("~")[0]
    words = _KIND_WORDS.get(kind, kind)
    what = f"the {best.role}'s {words}"
    verb = "match" if " and " in words else "matches"  # "name and street match"
    others = len({h.source for h in hits}) - 1
    more = f" (and {others} other partner{'s' if others > 1 else ''})" if others > 0 else ""
    return (
        f"{what} {verb} a seizure reported by partner {best.source} in {best.month}, "
        f"reliability {best.reliability}{best.accuracy}{more}",
        1,
    )


def hit_reason(hits: Sequence[Hit], scored: bool = False) -> str:
    """The reason in words, naming the strongest hit; '' without one. ``scored``: whether the
    model in service has the exchange features (only then can a hit raise the score; how much
    it did, which may be nothing while few labelled parcels had a hit, is the parcel's
    partner reason)."""
    if not hits:
        return ""
    fact, _ = hit_fact(hits)
    effect = (
        "the model in service reads partner hits: the parcel's reasons say how much this "
        "one weighed in its score"
        if scored
        else "reported to the officer; the model in service does not score partner hits, "
        "so the score is unchanged"
    )
    return f"{fact[0].upper()}{fact[1:]}; {effect}"
