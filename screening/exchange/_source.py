"""Partner-seizure features of parcels being scored: the scoring engine's exchange input.

For a model that reads the partner-seizure features (``screening._partner``), the engine asks
an :class:`ExchangeSource` for each batch: every party's variants become tokens as
``parcelscreen exchange match`` obtains them (blinded, through the custodians, each request
logged and counted against the requester's quota), matched point in time against the
partners' indicators. Variants are clear text only here, in memory, on their way to being
blinded; the token cache (one per epoch, so repeat parties cost no custodian round trip) is
keyed by a keyed hash of the variant, never the variant itself. A parcel whose tokens cannot
be had (a quota reached, a custodian refusing or unreachable) is scored with its
partner-seizure features at 0 and says so (:attr:`ExchangeInputs.unavailable`), never an
error of the whole batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .._errors import ScreeningError
from .._partner import EXCHANGE_FEATURES, GROUP
from ._match import Hit, PartnerIndex, hit_fact, hit_features
from ._tokens import Tokeniser
from ._variants import ROLES, party_variants

log = logging.getLogger("screening.exchange")
#: Tokens kept per epoch in a source's cache (least recently used go first).
CACHE_SIZE = 200_000
#: Seconds after a refused token request during which no other is sent (the refusal stands).
REFUSAL_BACKOFF_S = 1.0


@dataclass(frozen=True)
class ExchangeInputs:
    """The partner-seizure features of n parcels, their hits, and why a parcel could not be
    checked (None where it was)."""

    matrix: np.ndarray  # (n, len(EXCHANGE_FEATURES)) float64, 0 without a hit
    hits: list[list[Hit]]
    unavailable: list[str | None]
    #: each hit's fact as words already (inputs read back from :meth:`to_arrow`)
    worded: list[str | None] | None = None

    def facts(self, row: int) -> dict[str, tuple[str, int]] | None:
        """The partner-seizure reason's fact of one parcel, where a hit or a failure says
        more than the features (None: the features' own words)."""
        if self.worded is not None and self.worded[row] is not None and not self.hits[row]:
            return {GROUP: (str(self.worded[row]), 1)}
        why = self.unavailable[row]
        if why is not None:
            return {
                GROUP: (
                    f"seizures reported by partners not checked ({why}); scored as without "
                    "a partner's hit",
                    0,
                )
            }
        if self.hits[row]:
            return {GROUP: hit_fact(self.hits[row])}
        return None

    def to_arrow(self) -> pa.Table:
        """The features, each hit's fact in words and why a parcel was not checked, as
        columns (a batch run keeps them beside its prepared frames: no token, no clear
        value)."""
        columns: dict[str, Any] = {
            name: pa.array(self.matrix[:, i], pa.float64())
            for i, name in enumerate(EXCHANGE_FEATURES)
        }
        columns[_WORDED] = pa.array(
            [hit_fact(h)[0] if h else w for h, w in zip(self.hits, self._worded(), strict=True)],
            pa.string(),
        )
        columns[_UNCHECKED] = pa.array(self.unavailable, pa.string())
        columns[_HITS] = pa.array(
            [json.dumps([asdict(hit) for hit in h]) if h else None for h in self.hits],
            pa.string(),
        )
        return pa.table(columns)

    def _worded(self) -> list[str | None]:
        return self.worded if self.worded is not None else [None] * len(self.hits)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> ExchangeInputs:
        """Inputs back from :meth:`to_arrow`."""
        matrix = np.column_stack(
            [table.column(name).to_numpy() for name in EXCHANGE_FEATURES]
        ).reshape(table.num_rows, len(EXCHANGE_FEATURES))
        return cls(
            matrix.astype(np.float64),
            [[] for _ in range(table.num_rows)],
            table.column(_UNCHECKED).to_pylist(),
            table.column(_WORDED).to_pylist(),
        )


_WORDED, _UNCHECKED, _HITS = "exchange_fact", "exchange_unchecked", "exchange_hits"


def hits_from_arrow(table: pa.Table) -> list[list[Hit]]:
    """Each parcel's hits back from :meth:`ExchangeInputs.to_arrow` (what a batch run records
    for the officer's partner-hit page); none from a file written before they were kept."""
    if _HITS not in table.column_names:
        return [[] for _ in range(table.num_rows)]
    return [
        []
        if text is None
        else [Hit(**(d | {"variants": tuple(d["variants"])})) for d in json.loads(text)]
        for text in table.column(_HITS).to_pylist()
    ]


IndexSource = Callable[[], PartnerIndex]
EpochSource = Callable[[], Sequence[str]]


class ExchangeSource:
    """Tokens through ``tokeniser`` for the ``epochs`` live now, matched against ``index``.

    ``cache_key``: key of the per-epoch token cache (HMAC-SHA256 of epoch and variant); None:
    no cache (every batch asks the custodians for all its distinct variants, as ``exchange
    match`` does)."""

    def __init__(
        self,
        tokeniser: Tokeniser,
        epochs: EpochSource,
        index: IndexSource,
        cache_key: bytes | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.tokeniser = tokeniser
        self.epochs = epochs
        self.index = index
        self._key = cache_key
        self._size = cache_size
        #: when the custodians last refused, and why (see ``_ask``)
        self._refused: tuple[float, str] | None = None
        self.backoff_s = REFUSAL_BACKOFF_S
        self._cache: dict[str, OrderedDict[bytes, str]] = {}
        self._lock = threading.Lock()
        self.counts = {"parcels": 0, "unavailable": 0, "asked": 0, "cached": 0}

    def _digest(self, epoch: str, text: str) -> bytes:
        assert self._key is not None
        return hmac.new(self._key, f"{epoch}\0{text}".encode(), hashlib.sha256).digest()[:16]

    def _tokens(self, texts: Sequence[str], epoch: str) -> dict[str, str]:
        """Tokens of ``texts`` in ``epoch``, the cache's where it has them (raises whatever
        the tokeniser raises for the others)."""
        if self._key is None:
            return dict(zip(texts, self._ask(list(texts), epoch), strict=True))
        cache = self._cache.setdefault(epoch, OrderedDict())
        digests = {text: self._digest(epoch, text) for text in texts}
        found: dict[str, str] = {}
        for text, digest in digests.items():
            token = cache.get(digest)
            if token is not None:
                cache.move_to_end(digest)
                found[text] = token
        missing = [t for t in texts if t not in found]
        self.counts["cached"] += len(found)
        if missing:
            for text, token in zip(missing, self._ask(missing, epoch), strict=True):
                found[text] = token
                cache[digests[text]] = token
            while len(cache) > self._size:
                cache.popitem(last=False)
        return found

    def _ask(self, texts: list[str], epoch: str) -> list[str]:
        """The custodians' tokens of ``texts``; for ``backoff_s`` after a refusal, that
        refusal again without asking (a requester past its quota does not send, and the
        custodians do not log, a refused request per batch)."""
        if self._refused is not None and time.monotonic() - self._refused[0] < self.backoff_s:
            raise ScreeningError(self._refused[1])
        self.counts["asked"] += len(texts)
        try:
            return list(self.tokeniser.tokens(texts, epoch))
        except (ScreeningError, OSError, sqlite3.Error) as exc:
            self._refused = (time.monotonic(), str(exc).strip() or type(exc).__name__)
            raise

    def prefetch(self, parties: Sequence[Mapping[str, Any]]) -> None:
        """Ask now for the tokens of ``parties`` the cache lacks (a service does so before
        its scoring transaction, so a custodian round trip never holds the record database);
        a refusal is left for :meth:`inputs` to meet and report. Nothing without a cache."""
        if self._key is None:
            return
        distinct = sorted({text for p in parties for text in _variants(p)})
        with self._lock:
            for epoch in self.epochs():
                try:
                    self._tokens(distinct, epoch)
                except (ScreeningError, OSError, sqlite3.Error):
                    return

    def inputs(self, parties: Sequence[Mapping[str, Any]], posted_us: np.ndarray) -> ExchangeInputs:
        """The features of parcels (each a mapping with ``sender`` and ``recipient``) posted
        at ``posted_us``, matched against the indicators known at that time."""
        n = len(parties)
        variants = [_variant_kinds(p) for p in parties]
        tokens: list[list[tuple[str, str]]] = [[] for _ in range(n)]
        unavailable: list[str | None] = [None] * n
        with self._lock:
            epochs = list(self.epochs())
            for stale in set(self._cache) - set(epochs):  # an epoch ended: its tokens go
                del self._cache[stale]
            for epoch in epochs:
                distinct = sorted({text for row in variants for text, _ in row})
                try:
                    got = self._tokens(distinct, epoch)
                except (ScreeningError, OSError, sqlite3.Error) as exc:
                    why = _why(exc)
                    log.warning("exchange tokens unavailable for %d parcels: %s", n, why)
                    unavailable = [why] * n
                    tokens = [[] for _ in range(n)]
                    break
                for row, texts in enumerate(variants):
                    tokens[row].extend((got[text], kind) for text, kind in texts)
            index = self.index()
        hits = [
            [] if unavailable[i] else index.hits(tokens[i], int(posted_us[i])) for i in range(n)
        ]
        rows = [hit_features(h, int(at)) for h, at in zip(hits, posted_us, strict=True)]
        matrix = np.array(rows, dtype=np.float64).reshape(n, len(EXCHANGE_FEATURES))
        self.counts["parcels"] += n
        self.counts["unavailable"] += sum(u is not None for u in unavailable)
        return ExchangeInputs(matrix, hits, unavailable)


def _variant_kinds(parcel: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The variants of a parcel's parties (clear text, in memory only), each with its kind
    (a text can be two ``name~i`` of one postcode: 1123 less its first or second 1)."""
    return [
        (text, kind)
        for role in ROLES
        for kind, text in party_variants(role, parcel.get(role) or None).items()
    ]


def _variants(parcel: Mapping[str, Any]) -> list[str]:
    """The distinct variants of a parcel's parties (clear text, in memory only)."""
    return sorted({text for text, _ in _variant_kinds(parcel)})


def token_cache_key(pseudonymisation_key: str) -> bytes:
    """The token cache's key, derived from the pseudonymisation key and used for nothing
    else (the service's and the commands' caches key a variant alike)."""
    return hmac.new(pseudonymisation_key.encode(), b"exchange-token-cache", hashlib.sha256).digest()


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"no exchange token: {text}"[:300]


class StoreIndex:
    """The partners' indicators of a store as a :class:`PartnerIndex`, read again when the
    store changed (checked at most every ``every_s`` seconds), so a service sees a new import
    without a restart."""

    def __init__(self, store: Any, every_s: float = 30.0) -> None:
        self.store = store
        self.every_s = every_s
        self._seen: tuple[int, int] | None = None
        self._checked = 0.0
        self._index = PartnerIndex()
        self._lock = threading.Lock()

    def __call__(self) -> PartnerIndex:
        with self._lock:
            now = time.monotonic()
            if self._seen is None or now - self._checked >= self.every_s:
                self._checked = now
                state = self.store.state()
                if state != self._seen:
                    self._index, self._seen = self.store.index(), state
            return self._index
